from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestClient

from shared.principal import PRINCIPAL_HEADER
from tests.odata.conftest import Seed
from tests.odata.helpers import get_json


@pytest.mark.parametrize("url", ["/odata/", "/odata/$metadata", "/odata/products", "/odata/products(1)"])
async def test_requests_without_the_gateway_principal_are_401(client: TestClient, url: str) -> None:
    body = await get_json(client, url, {}, status=401)
    assert body["error"]["code"] == "unauthorized"


async def test_a_forged_principal_signature_is_401(client: TestClient, auth: dict[str, str]) -> None:
    signing_input, _ = auth[PRINCIPAL_HEADER].rsplit(".", 1)
    await get_json(client, "/odata/products", {PRINCIPAL_HEADER: f"{signing_input}.forged"}, status=401)


async def test_reading_a_set_needs_its_read_permission(
    client: TestClient, sign: Callable[..., dict[str, str]], seed: Seed
) -> None:
    only_categories = sign(frozenset({"categories:read"}))
    body = await get_json(client, "/odata/products", only_categories, status=403)
    assert "products:read" in body["error"]["message"]
    await get_json(client, "/odata/products/$count", only_categories, status=403)
    await get_json(client, f"/odata/products({seed.product_ids[0]})", only_categories, status=403)
    await get_json(client, "/odata/categories", only_categories, **{"$top": "1"})


async def test_order_items_belong_to_the_orders_resource(
    client: TestClient, sign: Callable[..., dict[str, str]], seed: Seed
) -> None:
    await get_json(client, "/odata/order_items", sign(frozenset({"products:read"})), status=403)
    body = await get_json(
        client, "/odata/order_items", sign(frozenset({"orders:read"})), **{"$filter": f"order_id eq {seed.order_id}"}
    )
    assert len(body["value"]) == 2


async def test_expanding_into_an_unreadable_resource_is_403(
    client: TestClient, sign: Callable[..., dict[str, str]], seed: Seed
) -> None:
    products_only = sign(frozenset({"products:read"}))
    body = await get_json(client, "/odata/products", products_only, status=403, **{"$expand": "category"})
    assert "categories:read" in body["error"]["message"]


async def test_health_and_readiness_need_no_principal(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    response = await client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["checks"] == {"postgresql": "ok"}
