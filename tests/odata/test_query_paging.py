"""Query API: no silent truncation. A root cut by its limit says so (the plain shape with `<root>@hasMore` and
`<root>@cursor` beside it, or a page object when asked for), cursors reach the next page, and capped relations
report their cap."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.odata.conftest import Seed


async def run_query(client: TestClient, headers: dict[str, str], query: str, status: int = 200) -> Any:
    response = await client.post("/api/query", headers=headers, json={"query": query})
    body = await response.json()
    assert response.status == status, body
    return body


async def test_a_root_cut_by_its_limit_says_so_beside_the_seed_shape(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await run_query(client, auth, f'products(filter: "{seed.where()}", order: "sku", limit: 3) {{ sku }}')
    assert [p["sku"] for p in body["products"]] == [f"{seed.prefix}-0{i}" for i in range(3)]
    assert body["products@hasMore"] is True
    assert isinstance(body["products@cursor"], str)


async def test_a_root_that_fits_its_limit_answers_only_the_rows(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await run_query(client, auth, f'products(filter: "{seed.where()}", limit: 10) {{ sku }}')
    assert list(body) == ["products"] and len(body["products"]) == 10


async def test_paged_root_walks_every_row_with_cursors(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    stocks: list[int] = []
    position = "page: true"
    for _ in range(5):
        query = f'products(filter: "{seed.where()}", order: "price desc", limit: 4, {position}) {{ stock }}'
        page = (await run_query(client, auth, query))["products"]
        stocks += [p["stock"] for p in page["items"]]
        if not page["hasMore"]:
            assert page["cursor"] is None
            break
        position = f'after: "{page["cursor"]}"'
    assert stocks == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]


async def test_the_cursor_of_a_cut_answer_continues_it(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    first = await run_query(client, auth, f'products(filter: "{seed.where()}", order: "sku", limit: 8) {{ sku }}')
    query = f'products(filter: "{seed.where()}", order: "sku", limit: 8, after: "{first["products@cursor"]}") {{ sku }}'
    page = (await run_query(client, auth, query))["products"]
    assert [p["sku"] for p in page["items"]] == [f"{seed.prefix}-08", f"{seed.prefix}-09"]
    assert page["hasMore"] is False


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ('after: "bm90LWEtY3Vyc29y"', "cursor is not one"),
        ('after: "WzFd", offset: 2', "either offset or after"),
        ('page: "yes"', "true or false"),
        ("page: 1", "true or false"),
    ],
)
async def test_bad_paging_arguments_are_400(
    client: TestClient, auth: dict[str, str], arguments: str, fragment: str
) -> None:
    body = await run_query(client, auth, f'products(order: "sku", {arguments}) {{ sku }}', status=400)
    assert fragment in body["error"]["message"]


async def test_a_capped_relation_reports_its_cap_and_its_full_count(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    query = f"""categories(filter: "id eq {seed.child_category_id}") {{
        slug products(limit: 2, order: "stock desc") {{ stock }}
    }}"""
    category = (await run_query(client, auth, query))["categories"][0]
    assert [p["stock"] for p in category["products"]] == [4, 3]
    assert category["products@hasMore"] is True
    assert category["products@count"] == 5


async def test_a_relation_within_its_cap_carries_no_marker(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    query = f'categories(filter: "id eq {seed.child_category_id}") {{ products(limit: 5) {{ stock }} }}'
    category = (await run_query(client, auth, query))["categories"][0]
    assert sorted(p["stock"] for p in category["products"]) == [0, 1, 2, 3, 4]
    assert set(category) == {"products"}


async def test_relations_nested_in_relations_report_their_caps(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    query = f"""categories(filter: "id eq {seed.root_category_id}") {{
        children(limit: 1) {{ slug products(limit: 2, order: "stock") {{ stock }} }}
    }}"""
    root = (await run_query(client, auth, query))["categories"][0]
    assert "children@hasMore" not in root
    child = root["children"][0]
    assert [p["stock"] for p in child["products"]] == [0, 1]
    assert (child["products@hasMore"], child["products@count"]) == (True, 5)


async def test_limit_applies_to_collection_relations_only(client: TestClient, auth: dict[str, str]) -> None:
    body = await run_query(client, auth, "products { category(limit: 1) { id } }", status=400)
    assert "single entity" in body["error"]["message"]
