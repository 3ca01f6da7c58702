from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from shared.principal import Principal
from tests.importer.conftest import csv_form, make_principal

CSV = "sku;name;price\nQ-1;Thing;1,00\n"


async def _error(response: aiohttp.ClientResponse, status: int) -> dict[str, str]:
    assert response.status == status, await response.text()
    return (await response.json())["error"]


@pytest.mark.parametrize("missing", ["entity", "mapperId", "file"])
async def test_a_missing_form_field_is_a_400_naming_it(
    client: TestClient, as_user: dict[str, str], products_mapper: str, missing: str
) -> None:
    form = aiohttp.FormData(default_to_multipart=True)
    if missing != "file":
        form.add_field("file", CSV.encode(), filename="a.csv", content_type="text/csv")
    if missing != "entity":
        form.add_field("entity", "products")
    if missing != "mapperId":
        form.add_field("mapperId", products_mapper)
    error = await _error(await client.post("/api/import", data=form, headers=as_user), 400)
    assert error["target"] == missing


async def test_an_unknown_entity_is_a_400(client: TestClient, as_user: dict[str, str], products_mapper: str) -> None:
    response = await client.post("/api/import", data=csv_form(CSV, "spaceships", products_mapper), headers=as_user)
    assert (await _error(response, 400))["code"] == "unknown_entity"


async def test_an_unknown_mapper_is_a_400(client: TestClient, as_user: dict[str, str]) -> None:
    response = await client.post("/api/import", data=csv_form(CSV, "products", "no-such-mapper"), headers=as_user)
    assert (await _error(response, 400))["code"] == "unknown_mapper"


async def test_a_mapper_for_another_entity_is_a_400(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    response = await client.post("/api/import", data=csv_form(CSV, "customers", products_mapper), headers=as_user)
    assert (await _error(response, 400))["code"] == "mapper_entity_mismatch"


async def test_an_empty_file_is_a_400(client: TestClient, as_user: dict[str, str], products_mapper: str) -> None:
    response = await client.post("/api/import", data=csv_form(b"", "products", products_mapper), headers=as_user)
    assert (await _error(response, 400))["code"] == "empty_file"


async def test_a_body_that_is_not_multipart_is_a_415(client: TestClient, as_user: dict[str, str]) -> None:
    response = await client.post("/api/import", json={"entity": "products"}, headers=as_user)
    assert (await _error(response, 415))["message"]


async def test_a_malformed_multipart_body_is_a_400(client: TestClient, as_user: dict[str, str]) -> None:
    headers = {**as_user, "Content-Type": "multipart/form-data; boundary=xyz"}
    response = await client.post("/api/import", data=b"--xyz\r\ngarbage", headers=headers)
    assert 400 <= response.status < 500
    assert (await response.json())["error"]["message"]


async def test_an_unknown_form_field_is_a_400(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    form = csv_form(CSV, "products", products_mapper, colour="blue")
    assert (await _error(await client.post("/api/import", data=form, headers=as_user), 400))["target"] == "colour"


async def test_a_call_without_the_gateways_signature_is_refused(client: TestClient, products_mapper: str) -> None:
    response = await client.post("/api/import", data=csv_form(CSV, "products", products_mapper))
    await _error(response, 401)
    forged = {"X-Platform-Principal": "e30.c2lnbmF0dXJl"}
    await _error(await client.get("/api/imports", headers=forged), 401)
    await _error(await client.get("/api/mappers", headers=forged), 401)


async def test_importing_needs_the_imports_and_the_entity_permissions(
    client: TestClient, sign: Callable[[Principal], dict[str, str]], products_mapper: str
) -> None:
    reader = sign(make_principal("imports:read", "products:create", "products:update"))
    response = await client.post("/api/import", data=csv_form(CSV, "products", products_mapper), headers=reader)
    assert "imports:create" in (await _error(response, 403))["message"]
    no_products = sign(make_principal("imports:create", "imports:read"))
    response = await client.post("/api/import", data=csv_form(CSV, "products", products_mapper), headers=no_products)
    assert "products:create" in (await _error(response, 403))["message"]


async def test_an_unknown_job_is_a_404(client: TestClient, as_user: dict[str, str]) -> None:
    await _error(await client.get("/api/imports/00000000-0000-0000-0000-000000000000", headers=as_user), 404)
    await _error(await client.get("/api/imports/not-a-uuid", headers=as_user), 404)
