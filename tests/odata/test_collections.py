from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from services.odata.app import create_app
from services.odata.config import Config
from tests.odata.conftest import Seed
from tests.odata.helpers import get_json


async def test_collection_answers_value_with_context_and_odata_version(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    response = await client.get(
        "/odata/products", headers=auth, params={"$filter": seed.where(), "$select": "id,name,price,stock"}
    )
    assert response.status == 200
    assert response.headers["OData-Version"] == "4.0"
    body = await response.json()
    assert body["@odata.context"].endswith("/odata/$metadata#products(id,name,price,stock)")
    assert len(body["value"]) == 10
    assert set(body["value"][0]) == {"id", "name", "price", "stock"}
    assert body["value"][1]["price"] == 10.5


async def test_single_entity_by_key(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    product_id = seed.product_ids[3]
    body = await get_json(client, f"/odata/products({product_id})", auth)
    assert body["@odata.context"].endswith("#products/$entity")
    assert body["id"] == product_id and body["sku"] == f"{seed.prefix}-03"
    assert body["created_at"] == "2020-04-04T12:00:00Z"


async def test_unknown_key_is_404(client: TestClient, auth: dict[str, str]) -> None:
    body = await get_json(client, "/odata/products(999999999999)", auth, status=404)
    assert body["error"]["target"] == "key"


async def test_malformed_key_is_400(client: TestClient, auth: dict[str, str]) -> None:
    body = await get_json(client, "/odata/products('abc')", auth, status=400)
    assert body["error"]["target"] == "key"


async def test_orderby_several_fields_ascending_and_descending(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(
        client, "/odata/products", auth, **{"$filter": seed.where(), "$orderby": "category_id desc, stock asc"}
    )
    stocks = [entity["stock"] for entity in body["value"]]
    # category ids: child (created second) is larger, holds stock 0-4; root holds 5-9.
    assert stocks == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    body = await get_json(client, "/odata/products", auth, **{"$filter": seed.where(), "$orderby": "price desc"})
    assert [entity["stock"] for entity in body["value"]] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]


async def test_top_and_skip_page_through_the_set(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    body = await get_json(
        client, "/odata/products", auth, **{"$filter": seed.where(), "$orderby": "stock", "$top": "3", "$skip": "4"}
    )
    assert [entity["stock"] for entity in body["value"]] == [4, 5, 6]
    assert "@odata.nextLink" not in body


async def test_count_true_adds_the_total(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    body = await get_json(
        client, "/odata/products", auth, **{"$filter": f"{seed.where()} and stock gt 5", "$count": "true", "$top": "1"}
    )
    assert body["@odata.count"] == 4
    assert len(body["value"]) == 1


async def test_dollar_count_segment_answers_plain_number(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    response = await client.get("/odata/products/$count", headers=auth, params={"$filter": seed.where()})
    assert response.status == 200
    assert await response.text() == "10"


@pytest.fixture
async def small_pages(aiohttp_client: Callable[..., object], odata_env: dict[str, str]) -> TestClient:
    config = Config.from_env({**odata_env, "MAX_PAGE_SIZE": "4", "DEFAULT_PAGE_SIZE": "3"})
    return await aiohttp_client(create_app(config))  # type: ignore[misc, no-any-return]


async def follow(client: TestClient, auth: dict[str, str], url: str) -> tuple[list[int], list[str]]:
    stocks: list[int] = []
    links: list[str] = []
    next_url: str | None = url
    while next_url:
        body = await get_json(client, next_url, auth)
        stocks += [entity["stock"] for entity in body["value"]]
        link = body.get("@odata.nextLink")
        next_url = None
        if link:
            links.append(link)
            parts = urlsplit(link)
            next_url = f"{parts.path}?{parts.query}"
    return stocks, links


async def test_default_page_size_pages_with_next_links_to_the_end(
    small_pages: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    stocks, links = await follow(small_pages, auth, f"/odata/products?$filter={seed.where()}&$orderby=stock desc")
    assert stocks == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert len(links) == 3
    assert links[0].startswith("http://") and "/odata/products?" in links[0] and "$skiptoken=" in links[0]


async def test_top_above_max_page_size_continues_with_the_remaining_top(
    small_pages: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    stocks, links = await follow(small_pages, auth, f"/odata/products?$filter={seed.where()}&$orderby=stock&$top=6")
    assert stocks == [0, 1, 2, 3, 4, 5]
    assert len(links) == 1 and "$skiptoken=" in links[0] and "$top=2" in links[0]


async def test_mixed_sort_directions_page_by_keyset(small_pages: TestClient, auth: dict[str, str], seed: Seed) -> None:
    url = f"/odata/products?$filter={seed.where()}&$orderby=active desc,stock desc"
    stocks, links = await follow(small_pages, auth, url)
    assert stocks == [8, 7, 6, 5, 4, 3, 2, 1, 0, 9]
    assert all("$skiptoken=" in link for link in links)


async def test_nulls_sort_first_ascending_and_last_descending(
    client: TestClient, auth: dict[str, str], seed: Seed, uncategorized: list[int]
) -> None:
    ascending = await get_json(
        client, "/odata/products", auth, **{"$filter": seed.where(), "$orderby": "category_id,stock", "$top": "20"}
    )
    assert [entity["stock"] for entity in ascending["value"]] == [10, 11, 12, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]
    descending = await get_json(
        client, "/odata/products", auth, **{"$filter": seed.where(), "$orderby": "category_id desc", "$top": "20"}
    )
    assert [entity["stock"] for entity in descending["value"]] == [4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 12, 11, 10]


@pytest.mark.parametrize(
    ("orderby", "expected"),
    [
        ("category_id,stock", [11, 12, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]),
        ("category_id desc,stock desc", [3, 2, 1, 0, 9, 8, 7, 6, 5, 12, 11, 10]),
        ("category_id desc,stock", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
    ],
)
async def test_sorting_on_a_nullable_field_pages_by_keyset_through_the_nulls(
    small_pages: TestClient,
    auth: dict[str, str],
    seed: Seed,
    uncategorized: list[int],
    orderby: str,
    expected: list[int],
) -> None:
    url = f"/odata/products?$filter={seed.where()}&$orderby={orderby}&$skip=1"
    stocks, links = await follow(small_pages, auth, url)
    assert stocks == expected
    assert links and all("$skiptoken=" in link and "$skip=" not in link for link in links)


@pytest.mark.parametrize("token", ["garbage!", "WzEsMiwzXQ", "WyJ4IiwxXQ", "eyJhIjoxfQ"])
async def test_a_tampered_skiptoken_is_400(client: TestClient, auth: dict[str, str], token: str) -> None:
    body = await get_json(client, "/odata/products", auth, status=400, **{"$skiptoken": token, "$orderby": "stock"})
    assert body["error"]["target"] == "$skiptoken"


async def test_public_base_url_is_used_in_links(
    aiohttp_client: Callable[..., object], odata_env: dict[str, str], auth: dict[str, str], seed: Seed
) -> None:
    config = Config.from_env({**odata_env, "PUBLIC_BASE_URL": "https://shop.example.com", "DEFAULT_PAGE_SIZE": "2"})
    client: TestClient = await aiohttp_client(create_app(config))  # type: ignore[misc]
    body = await get_json(client, "/odata/products", auth, **{"$filter": seed.where()})
    assert body["@odata.context"] == "https://shop.example.com/odata/$metadata#products"
    assert body["@odata.nextLink"].startswith("https://shop.example.com/odata/products?")


async def test_expand_single_and_collection_with_nested_select(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(
        client,
        f"/odata/products({seed.product_ids[0]})",
        auth,
        **{"$select": "sku", "$expand": "category($select=name)"},
    )
    assert body["category"] == {"name": f"{seed.prefix} Child"}
    body = await get_json(client, f"/odata/orders({seed.order_id})", auth, **{"$expand": "items,customer"})
    assert [item["product_id"] for item in body["items"]] == seed.product_ids[:2]
    assert body["customer"]["email"] == f"{seed.prefix}@example.com"
    body = await get_json(
        client, f"/odata/categories({seed.root_category_id})", auth, **{"$expand": "children($select=slug),parent"}
    )
    assert body["children"] == [{"slug": f"{seed.prefix}-child"}]
    assert body["parent"] is None


async def test_expand_applies_nested_filter_orderby_top_and_skip_per_parent(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(
        client,
        "/odata/categories",
        auth,
        **{
            "$filter": f"id in ({seed.root_category_id}, {seed.child_category_id})",
            "$orderby": "id",
            "$select": "slug",
            "$expand": "products($filter=stock ne @s;$orderby=stock desc;$top=2;$skip=1;$select=stock)",
            "@s": "8",
        },
    )
    assert [category["products"] for category in body["value"]] == [
        [{"stock": 7}, {"stock": 6}],
        [{"stock": 3}, {"stock": 2}],
    ]


async def test_expand_filter_with_separators_inside_string_literals(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(
        client,
        f"/odata/categories({seed.child_category_id})",
        auth,
        **{"$expand": "products($filter=description ne 'a;b,(c' and contains(description, 'It''s');$select=sku)"},
    )
    assert body["products"] == [{"sku": f"{seed.prefix}-03"}]


async def test_service_document_lists_entity_sets(client: TestClient, auth: dict[str, str]) -> None:
    body = await get_json(client, "/odata/", auth)
    assert {entry["name"] for entry in body["value"]} == {
        "products",
        "categories",
        "customers",
        "orders",
        "order_items",
    }
    assert body["@odata.context"].endswith("/odata/$metadata")
