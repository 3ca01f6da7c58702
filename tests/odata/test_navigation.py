"""Navigation paths and lambdas in $filter and $orderby, nested $expand with options at every level."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestClient

from tests.odata.conftest import ALL_READ, Seed
from tests.odata.helpers import get_json, matching


async def test_filter_on_a_single_valued_navigation_path(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    assert await matching(client, auth, seed, f"category/name eq '{seed.prefix} Root'") == [5, 6, 7, 8, 9]


async def test_filter_on_a_two_level_navigation_path(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    assert await matching(client, auth, seed, f"category/parent/slug eq '{seed.prefix}-root'") == [0, 1, 2, 3, 4]


async def test_a_missing_related_entity_makes_the_path_null(
    client: TestClient, auth: dict[str, str], seed: Seed, uncategorized: list[int]
) -> None:
    expression = f"not (category/name eq '{seed.prefix} Root')"
    assert await matching(client, auth, seed, expression) == [0, 1, 2, 3, 4, 10, 11, 12]
    assert await matching(client, auth, seed, "category/name eq null") == [10, 11, 12]


async def test_orderby_a_navigation_path_puts_missing_ones_last_descending(
    client: TestClient, auth: dict[str, str], seed: Seed, uncategorized: list[int]
) -> None:
    body = await get_json(
        client, "/odata/products", auth, **{"$filter": seed.where(), "$orderby": "category/name desc,stock"}
    )
    assert [entity["stock"] for entity in body["value"]] == [5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 10, 11, 12]


async def test_filter_orders_by_their_customer(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    body = await get_json(
        client, "/odata/orders", auth, **{"$filter": f"customer/email eq '{seed.prefix}@example.com'"}
    )
    assert [order["id"] for order in body["value"]] == [seed.order_id]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("order_items/any()", [0, 1]),
        ("not order_items/any()", [2, 3, 4, 5, 6, 7, 8, 9]),
        ("order_items/any(i: i/quantity eq 1)", [0, 1]),
        ("order_items/any(i: i/quantity gt 1)", []),
        ("order_items/all(i: i/quantity eq 1)", list(range(10))),
        ("order_items/all(i: i/quantity gt 1)", [2, 3, 4, 5, 6, 7, 8, 9]),
        ("order_items/any(i: i/order/customer/city eq 'Paris' and i/unit_price eq price)", [1]),
        ("order_items/any(i: i/order/items/any(j: j/product_id ne i/product_id and j/product/stock eq 0))", [1]),
    ],
)
async def test_lambdas_over_collection_navigation(
    client: TestClient, auth: dict[str, str], seed: Seed, expression: str, expected: list[int]
) -> None:
    assert await matching(client, auth, seed, expression) == expected


async def test_nested_lambdas_reach_through_several_collections(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    expression = f"products/any(p: p/order_items/any(i: i/order/number eq '{seed.prefix}-o1'))"
    body = await get_json(client, "/odata/categories", auth, **{"$filter": expression})
    assert [category["id"] for category in body["value"]] == [seed.child_category_id]


async def test_a_single_valued_navigation_compares_with_null(
    client: TestClient, auth: dict[str, str], seed: Seed, uncategorized: list[int]
) -> None:
    assert await matching(client, auth, seed, "category eq null") == [10, 11, 12]
    assert await matching(client, auth, seed, "category/parent ne null") == [0, 1, 2, 3, 4]
    assert await matching(client, auth, seed, "not (category ne null) or stock eq 0") == [0, 10, 11, 12]


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"$filter": "category eq 1"}, "$filter"),
        ({"$filter": "category gt null"}, "$filter"),
        ({"$orderby": "category"}, "$orderby"),
        ({"$filter": "order_items/quantity eq 1"}, "$filter"),
        ({"$filter": "category/any(c: c/id eq 1)"}, "$filter"),
        ({"$filter": "order_items/any(i: i eq 1)"}, "$filter"),
        ({"$filter": "order_items/any(stock: stock/quantity eq 1)"}, "$filter"),
        ({"$filter": "category/nosuch eq 1"}, "$filter"),
        ({"$filter": "order_items/all()"}, "$filter"),
    ],
)
async def test_bad_navigation_is_400(
    client: TestClient, auth: dict[str, str], params: dict[str, str], target: str
) -> None:
    body = await get_json(client, "/odata/products", auth, status=400, **params)
    assert body["error"]["target"] == target


@pytest.mark.parametrize(
    "params",
    [
        {"$filter": "category/name eq 'x'"},
        {"$orderby": "category/name"},
        {"$expand": "order_items($filter=order/number eq 'x')"},
    ],
)
async def test_navigation_needs_read_permission_on_what_it_reaches(
    client: TestClient, sign: Callable[..., dict[str, str]], params: dict[str, str]
) -> None:
    headers = sign(frozenset({"products:read"}))
    body = await get_json(client, "/odata/products", headers, status=403, **params)
    assert body["error"]["code"] == "forbidden"


async def test_lambda_needs_read_permission_on_the_collection(
    client: TestClient, sign: Callable[..., dict[str, str]]
) -> None:
    headers = sign(ALL_READ - {"orders:read"})
    await get_json(client, "/odata/products", headers, status=403, **{"$filter": "order_items/any()"})


async def test_nested_expand_with_select_at_the_second_level(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(
        client,
        f"/odata/orders({seed.order_id})",
        auth,
        **{"$select": "number", "$expand": "items($select=quantity;$expand=product($select=sku))"},
    )
    assert body["items"] == [
        {"quantity": 1, "product": {"sku": f"{seed.prefix}-00"}},
        {"quantity": 1, "product": {"sku": f"{seed.prefix}-01"}},
    ]
    assert body["@odata.context"].endswith("#orders(number,items(product()))/$entity")


async def test_options_apply_at_every_expand_level(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    body = await get_json(
        client,
        f"/odata/categories({seed.root_category_id})",
        auth,
        **{
            "$select": "slug",
            "$expand": "children($select=slug;$expand=products($filter=stock gt 1;$orderby=stock desc;$top=2;"
            "$count=true;$select=stock))",
        },
    )
    assert body["children"] == [
        {"slug": f"{seed.prefix}-child", "products@odata.count": 3, "products": [{"stock": 4}, {"stock": 3}]}
    ]


async def test_expand_star_expands_every_navigation_property(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(client, f"/odata/products({seed.product_ids[0]})", auth, **{"$expand": "*"})
    assert body["category"]["id"] == seed.child_category_id
    assert [item["order_id"] for item in body["order_items"]] == [seed.order_id]


async def test_expand_nesting_is_bounded(client: TestClient, auth: dict[str, str]) -> None:
    expand = "items($expand=order($expand=items($expand=order)))"
    body = await get_json(client, "/odata/orders", auth, status=400, **{"$expand": expand})
    assert "levels deep" in body["error"]["message"]


async def test_expand_count_counts_the_filtered_collection(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(
        client,
        f"/odata/orders({seed.order_id})",
        auth,
        **{"$expand": f"items($filter=product_id eq {seed.product_ids[1]};$count=true)"},
    )
    assert body["items@odata.count"] == 1 and len(body["items"]) == 1


async def test_orderby_an_expression_pages_by_keyset(
    aiohttp_client: Callable[..., object], odata_env: dict[str, str], auth: dict[str, str], seed: Seed
) -> None:
    from services.odata.app import create_app
    from services.odata.config import Config

    client: TestClient = await aiohttp_client(  # type: ignore[misc]
        create_app(Config.from_env({**odata_env, "DEFAULT_PAGE_SIZE": "4"}))
    )
    url = f"/odata/products?$filter={seed.where()}&$orderby=tolower(name) desc,stock&$select=stock"
    stocks: list[int] = []
    while url:
        body = await get_json(client, url, auth)
        stocks += [entity["stock"] for entity in body["value"]]
        link = body.get("@odata.nextLink")
        url = link[link.index("/odata/") :] if link else ""
        assert not link or "$skiptoken=" in link
    assert stocks == [8, 6, 4, 2, 0, 9, 7, 5, 3, 1]
