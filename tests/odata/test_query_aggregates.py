"""Query API aggregate roots: count, sum, avg, min, max and countdistinct, grouped by the selected fields, mirroring
OData's $apply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.odata.conftest import Seed


async def run_query(client: TestClient, headers: dict[str, str], query: str, status: int = 200) -> Any:
    response = await client.post("/api/query", headers=headers, json={"query": query})
    body = await response.json()
    assert response.status == status, body
    return body


async def test_fields_beside_aggregates_are_the_groups(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    query = f"""stats: products(filter: "{seed.where()}", order: "min_stock") {{
        category_id count sum(price) avg(price) min(stock) max(stock)
    }}"""
    body = await run_query(client, auth, query)
    assert body["stats"] == [
        {
            "category_id": seed.child_category_id,
            "count": 5,
            "sum_price": 102.5,
            "avg_price": 20.5,
            "min_stock": 0,
            "max_stock": 4,
        },
        {
            "category_id": seed.root_category_id,
            "count": 5,
            "sum_price": 352.5,
            "avg_price": 70.5,
            "min_stock": 5,
            "max_stock": 9,
        },
    ]


async def test_aggregates_without_fields_answer_one_row(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    query = f'products(filter: "{seed.where()}") {{ count total: sum(stock) kinds: countdistinct(active) }}'
    assert (await run_query(client, auth, query))["products"] == [{"count": 10, "total": 45, "kinds": 2}]


async def test_groups_through_a_single_relation_nest_like_the_relation(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    query = f'products(filter: "{seed.where()}", order: "category/name") {{ category {{ name }} n: count }}'
    assert (await run_query(client, auth, query))["products"] == [
        {"category": {"name": f"{seed.prefix} Child"}, "n": 5},
        {"category": {"name": f"{seed.prefix} Root"}, "n": 5},
    ]


async def test_groups_page_with_cursors(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    query = f'products(filter: "{seed.where()}", order: "stock desc", limit: 6, page: true) {{ stock count }}'
    first = (await run_query(client, auth, query))["products"]
    assert [row["stock"] for row in first["items"]] == [9, 8, 7, 6, 5, 4] and first["hasMore"] is True
    query = query.replace("page: true", f'after: "{first["cursor"]}"')
    second = (await run_query(client, auth, query))["products"]
    assert [row["stock"] for row in second["items"]] == [3, 2, 1, 0] and second["hasMore"] is False


async def test_a_cut_aggregate_root_says_so(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    body = await run_query(client, auth, f'products(filter: "{seed.where()}", limit: 1) {{ active count }}')
    assert len(body["products"]) == 1 and body["products@hasMore"] is True


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("products { sum(name) }", "sum takes a number"),
        ("products { median(price) }", "Unknown aggregate"),
        ("products { sum(nosuch) }", "no field"),
        ("products { n: name count }", "Aliases name aggregates only"),
        ("products { order_items { id } count }", "not one"),
        ("products { count count }", "named twice"),
        ('products(order: "price") { active count }', "not a property of the aggregated result"),
        ("products { id total: sum(price) category { sum(price) } }", "top of an aggregate root"),
        ("products { id, x: sum(price) } categories { y: name }", "aggregate roots only"),
    ],
)
async def test_bad_aggregates_are_400(client: TestClient, auth: dict[str, str], query: str, fragment: str) -> None:
    body = await run_query(client, auth, query, status=400)
    assert fragment in body["error"]["message"], body
    assert body["error"]["line"] >= 1


async def test_grouping_through_a_relation_needs_read_on_its_target(
    client: TestClient, sign: Callable[..., dict[str, str]]
) -> None:
    headers = sign(frozenset({"products:read"}))
    response = await client.post("/api/query", headers=headers, json={"query": "products { category { name } count }"})
    assert response.status == 403
