"""$apply: filter/search, then groupby and aggregate (sum, average, min, max, countdistinct, $count), answered as
OData aggregation responses."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from tests.odata.conftest import Seed
from tests.odata.helpers import get_json


@pytest.fixture
def odata_env(base_env: dict[str, str]) -> dict[str, str]:
    return {**base_env, "MAX_PAGE_SIZE": "50", "DEFAULT_PAGE_SIZE": "4"}


def seeded(seed: Seed, rest: str) -> str:
    return f"filter({seed.where()})/{rest}"


async def test_aggregate_answers_one_transient_entity_with_typed_values(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    apply = seeded(seed, "aggregate(price with sum as Total, $count as Count)")
    body = await get_json(client, "/odata/products", auth, **{"$apply": apply})
    assert body["@odata.context"].endswith("/$metadata#products(Total,Count)")
    assert body["value"] == [
        {"@odata.id": None, "Total@odata.type": "#Decimal", "Total": 455.0, "Count@odata.type": "#Int64", "Count": 10}
    ]


async def test_groupby_aggregates_each_group(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    apply = seeded(
        seed,
        "groupby((category_id), aggregate(price with average as Mean, stock with max as Most, "
        "stock with min as Least, active with countdistinct as States))",
    )
    body = await get_json(client, "/odata/products", auth, **{"$apply": apply, "$orderby": "Least"})
    rows = [{k: v for k, v in row.items() if "@" not in k} for row in body["value"]]
    assert rows == [
        {"category_id": seed.child_category_id, "Mean": 20.5, "Most": 4, "Least": 0, "States": 1},
        {"category_id": seed.root_category_id, "Mean": 70.5, "Most": 9, "Least": 5, "States": 2},
    ]


async def test_groupby_a_navigation_path_nests_the_value(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    apply = seeded(seed, "groupby((category/name), aggregate($count as Count))")
    body = await get_json(client, "/odata/products", auth, **{"$apply": apply, "$orderby": "category/name desc"})
    assert body["@odata.context"].endswith("#products(category(name),Count)")
    assert [(row["category"], row["Count"]) for row in body["value"]] == [
        ({"@odata.id": None, "name": f"{seed.prefix} Root"}, 5),
        ({"@odata.id": None, "name": f"{seed.prefix} Child"}, 5),
    ]


async def test_groupby_without_aggregate_answers_the_distinct_values(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(client, "/odata/products", auth, **{"$apply": seeded(seed, "groupby((active))")})
    assert body["value"] == [{"@odata.id": None, "active": False}, {"@odata.id": None, "active": True}]


async def test_an_expression_can_be_aggregated(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    apply = f"filter(order_id eq {seed.order_id})/aggregate(quantity mul unit_price with sum as Revenue)"
    body = await get_json(client, "/odata/order_items", auth, **{"$apply": apply})
    assert body["value"][0]["Revenue"] == 21.0


async def test_search_transformation_narrows_the_rows(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    apply = seeded(seed, "search(gadget)/aggregate(stock with sum as Stock)")
    body = await get_json(client, "/odata/products", auth, **{"$apply": apply})
    assert body["value"][0]["Stock"] == 1 + 3 + 5 + 7 + 9


async def test_empty_input_gives_null_sums_and_zero_counts(client: TestClient, auth: dict[str, str]) -> None:
    apply = "filter(id eq -1)/aggregate(price with sum as Total, price with countdistinct as Prices, $count as N)"
    body = await get_json(client, "/odata/products", auth, **{"$apply": apply})
    row = body["value"][0]
    assert (row["Total"], row["Prices"], row["N"]) == (None, 0, 0)


async def test_an_aggregate_without_groups_counts_as_one_result(client: TestClient, auth: dict[str, str]) -> None:
    params = {"$apply": "filter(id eq -1)/aggregate($count as N)", "$count": "true"}
    body = await get_json(client, "/odata/products", auth, **params)
    assert body["@odata.count"] == 1 and len(body["value"]) == 1


async def test_groups_are_paged_with_a_next_link_and_counted(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    apply = seeded(seed, "groupby((stock), aggregate($count as N))")
    body = await get_json(
        client, "/odata/products", auth, **{"$apply": apply, "$orderby": "stock desc", "$count": "true"}
    )
    assert body["@odata.count"] == 10
    assert [row["stock"] for row in body["value"]] == [9, 8, 7, 6]
    link = urlsplit(body["@odata.nextLink"])
    page = await get_json(client, f"{link.path}?{link.query}", auth)
    assert [row["stock"] for row in page["value"]] == [5, 4, 3, 2]


@pytest.mark.parametrize(
    ("apply", "fragment"),
    [
        ("aggregate(price with avg as A)", "'average'"),
        ("aggregate(name with sum as A)", "sum takes a number"),
        ("aggregate(nosuch with sum as A)", "no property"),
        ("groupby((nosuch))", "no property"),
        ("groupby((order_items))", "collection"),
        ("groupby((name), aggregate(price with sum as name))", "already a property"),
        ("aggregate(price with sum as A, stock with max as A)", "already a property"),
        ("aggregate(price with sum)", "Malformed aggregate"),
        ("aggregate(price with median as M)", "Unknown aggregation method"),
        ("groupby(name)", "parenthesized"),
        ("frobnicate(x)", "Unknown transformation"),
        ("filter(price eq 'x')/aggregate($count as N)", "Cannot compare"),
        ("aggregate($count as N", "Unbalanced"),
    ],
)
async def test_bad_apply_is_400(client: TestClient, auth: dict[str, str], apply: str, fragment: str) -> None:
    body = await get_json(client, "/odata/products", auth, status=400, **{"$apply": apply})
    assert fragment in body["error"]["message"], body


@pytest.mark.parametrize(
    "params",
    [
        {"$apply": "topcount(2, price)"},
        {"$apply": "aggregate($count as N)/filter(N gt 1)"},
        {"$apply": "groupby((name), topcount(1, price))"},
        {"$apply": "aggregate(price with Custom.median as M)"},
        {"$apply": "aggregate($count as N)", "$filter": "N gt 1"},
        {"$apply": "aggregate($count as N)", "$expand": "category"},
        {"$apply": "filter(stock gt 1)"},
    ],
)
async def test_unsupported_apply_is_501(client: TestClient, auth: dict[str, str], params: dict[str, str]) -> None:
    await get_json(client, "/odata/products", auth, status=501, **params)


async def test_orderby_names_only_result_properties(client: TestClient, auth: dict[str, str]) -> None:
    params = {"$apply": "groupby((active), aggregate($count as N))", "$orderby": "price"}
    body = await get_json(client, "/odata/products", auth, status=400, **params)
    assert "one of active, N" in body["error"]["message"]


async def test_grouping_through_navigation_needs_read_on_the_target(
    client: TestClient, sign: Callable[..., dict[str, str]]
) -> None:
    headers = sign(frozenset({"products:read"}))
    response = await client.get("/odata/products", headers=headers, params={"$apply": "groupby((category/name))"})
    assert response.status == 403
