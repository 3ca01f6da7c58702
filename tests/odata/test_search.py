"""$search: words, phrases, AND/OR/NOT and parentheses, compiled to PostgreSQL full-text search (english) over an
expression GIN index."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.odata.query import count_sql, parse_query
from shared.catalog.model import ENTITY_SETS, search_document
from tests.odata.conftest import Seed
from tests.odata.helpers import get_json, matching


async def searched(client: TestClient, auth: dict[str, str], seed: Seed, search: str) -> list[int]:
    return await matching(client, auth, seed, "true", **{"$search": search})


async def test_juxtaposed_words_must_all_match(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    assert await searched(client, auth, seed, "gadget special") == [3]


async def test_or_matches_either_side(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    assert await searched(client, auth, seed, "special OR item") == [0, 2, 3, 4, 6, 8]


async def test_not_excludes_a_word(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    assert await searched(client, auth, seed, "gadget AND NOT special") == [1, 5, 7, 9]


async def test_a_phrase_needs_its_words_adjacent_and_in_order(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    assert await searched(client, auth, seed, '"gadget 05"') == [5]
    assert await searched(client, auth, seed, '"05 gadget"') == []


async def test_not_binds_tighter_than_and_and_and_tighter_than_or(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    assert await searched(client, auth, seed, 'special OR item NOT "item 04"') == [0, 2, 3, 6, 8]
    assert await searched(client, auth, seed, '(special OR item) NOT "item 04"') == [0, 2, 3, 6, 8]
    assert await searched(client, auth, seed, "gadget (special OR item)") == [3]


async def test_words_are_stemmed_with_the_english_configuration(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    assert await searched(client, auth, seed, "GADGETS") == [1, 3, 5, 7, 9]


async def test_search_applies_inside_expand(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    body = await get_json(
        client,
        "/odata/categories",
        auth,
        **{"$filter": f"id eq {seed.child_category_id}", "$expand": "products($search=gadget;$count=true;$select=sku)"},
    )
    category = body["value"][0]
    assert sorted(p["sku"] for p in category["products"]) == [f"{seed.prefix}-01", f"{seed.prefix}-03"]
    assert category["products@odata.count"] == 2


async def test_the_query_api_search_argument_takes_the_same_expressions(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    query = f'products(filter: "{seed.where()}", search: "special OR \\"item 02\\"", order: "sku") {{ sku }}'
    response = await client.post("/api/query", headers=auth, json={"query": query})
    body = await response.json()
    assert response.status == 200, body
    assert [p["sku"] for p in body["products"]] == [f"{seed.prefix}-02", f"{seed.prefix}-03"]


@pytest.mark.parametrize("search", ['"open', "(lamp", "lamp OR", "NOT", "lamp)", '""', "AND lamp", "x" * 1001])
async def test_malformed_search_is_400(client: TestClient, auth: dict[str, str], search: str) -> None:
    body = await get_json(client, "/odata/products", auth, status=400, **{"$search": search})
    assert body["error"]["target"] == "$search"


async def test_search_on_a_set_without_searchable_properties_is_400(client: TestClient, auth: dict[str, str]) -> None:
    body = await get_json(client, "/odata/order_items", auth, status=400, **{"$search": "x"})
    assert "no searchable properties" in body["error"]["message"]


@pytest.mark.parametrize("name", ["products", "categories", "customers", "orders"])
async def test_search_is_served_by_the_text_search_index(database_url: str, seed: Seed, name: str) -> None:
    query = parse_query(ENTITY_SETS[name], {"$search": 'lamp OR "red shade"'}, "")
    sql, params = count_sql(query)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {sql}", *params))
    finally:
        await conn.close()
    assert f"{name}_search_idx" in plan, plan


@pytest.mark.parametrize("name", ["products", "categories", "customers", "orders"])
async def test_the_stored_search_document_is_the_models(database_url: str, seed: Seed, name: str) -> None:
    entity = ENTITY_SETS[name]
    conn = await asyncpg.connect(database_url)
    try:
        same = await conn.fetchval(
            f"SELECT bool_and(t.search_document = {search_document(entity, 't')}) FROM {entity.qualified_table} AS t"
        )
    finally:
        await conn.close()
    assert same is True
