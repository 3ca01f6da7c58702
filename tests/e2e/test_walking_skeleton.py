"""One authenticated read and one CSV import travel through all four services, as a client would send them."""

from __future__ import annotations

import asyncio
import secrets

import aiohttp

from tests.conftest import RunningPlatform


async def test_odata_products_answer_through_the_gateway_with_an_api_key(
    platform: RunningPlatform, admin_api_key: str
) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.get(
            f"{platform.gateway}/odata/products", params={"$top": "2"}, headers={"X-API-Key": admin_api_key}
        )
        assert response.status == 200
        body = await response.json()
    assert len(body["value"]) == 2
    assert {"id", "name", "price", "stock"} <= set(body["value"][0])


async def test_a_request_without_a_key_is_refused_with_401(platform: RunningPlatform) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.get(f"{platform.gateway}/odata/products", params={"$top": "2"})
        assert response.status == 401
        assert "WWW-Authenticate" in response.headers
        assert (await response.json())["error"]["code"]


async def test_a_revoked_key_is_refused_with_401(platform: RunningPlatform, admin_api_key: str) -> None:
    admin = {"X-API-Key": admin_api_key}
    async with aiohttp.ClientSession() as http:
        created = await http.post(f"{platform.gateway}/api/keys", json={"name": "to revoke"}, headers=admin)
        assert created.status == 201, await created.text()
        key = await created.json()
        headers = {"X-API-Key": key["key"]}
        assert (await http.get(f"{platform.gateway}/odata/products?$top=1", headers=headers)).status == 200
        revoked = await http.post(f"{platform.gateway}/api/keys/{key['id']}/revoke", headers=admin)
        assert revoked.status == 200, await revoked.text()
        for _ in range(20):
            response = await http.get(f"{platform.gateway}/odata/products?$top=1", headers=headers)
            if response.status == 401:
                break
            await asyncio.sleep(0.05)
        assert response.status == 401


async def test_a_direct_call_to_the_odata_service_without_the_gateway_signature_is_refused(
    platform: RunningPlatform, admin_api_key: str
) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.get(f"{platform.odata}/odata/products", headers={"X-API-Key": admin_api_key})
        assert response.status == 401
        forged = await http.get(
            f"{platform.odata}/odata/products", headers={"X-Platform-Principal": "e30.c2lnbmF0dXJl"}
        )
        assert forged.status == 401


async def test_a_csv_import_through_the_gateway_writes_rows_and_reports_counts(
    platform: RunningPlatform, admin_api_key: str
) -> None:
    tag = secrets.token_hex(4)
    csv = f"sku,name,price,stock\nE2E-{tag}-1,Walking skeleton mug,9.50,3\nE2E-{tag}-2,Walking skeleton cap,12.00,7\n"
    form = aiohttp.FormData()
    form.add_field("file", csv.encode(), filename="products.csv", content_type="text/csv")
    form.add_field("entity", "products")
    form.add_field("mapperId", "products-default")
    headers = {"X-API-Key": admin_api_key}
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{platform.gateway}/api/import", data=form, headers=headers)
        assert response.status == 200, await response.text()
        result = await response.json()
        assert result["status"] == "completed"
        assert result["imported"] == 2
        status = await http.get(f"{platform.gateway}/api/imports/{result['id']}", headers=headers)
        assert status.status == 200
        assert (await status.json())["imported"] == 2
        rows = await http.get(
            f"{platform.gateway}/odata/products",
            params={"$filter": f"startswith(sku,'E2E-{tag}')", "$orderby": "sku"},
            headers=headers,
        )
        assert [row["name"] for row in (await rows.json())["value"]] == [
            "Walking skeleton mug",
            "Walking skeleton cap",
        ]


async def test_an_unknown_route_at_the_gateway_is_a_json_404(platform: RunningPlatform) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.get(f"{platform.gateway}/no/such/route")
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_a_malformed_multipart_upload_is_a_clear_4xx(platform: RunningPlatform, admin_api_key: str) -> None:
    headers = {"X-API-Key": admin_api_key, "Content-Type": "multipart/form-data; boundary=xyz"}
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{platform.gateway}/api/import", data=b"--xyz\r\ngarbage", headers=headers)
        assert 400 <= response.status < 500
        assert (await response.json())["error"]["message"]
