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


async def test_the_seed_query_answers_products_with_the_asked_fields(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await run_query(
        client, auth, f'products(filter: "{seed.where()}", order: "stock desc", limit: 3) {{ id, name, price, stock }}'
    )
    assert [key for key in body if "@" not in key] == ["products"]
    assert [p["stock"] for p in body["products"]] == [9, 8, 7]
    assert set(body["products"][0]) == {"id", "name", "price", "stock"}
    assert body["products"][0]["price"] == 90.5


async def test_several_roots_aliases_and_nested_relations(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    query = f"""
        # the cheapest two, with their category and its parent
        cheap: products(filter: "{seed.where()}", order: "price", limit: 2) {{
            sku
            category {{ name parent {{ slug }} }}
        }}
        orders(filter: "id eq {seed.order_id}") {{ number customer {{ email }} items {{ quantity product {{ sku }} }} }}
        categories(filter: "id eq {seed.root_category_id}") {{ slug children {{ slug }} }}
    """
    body = await run_query(client, auth, query)
    assert [p["sku"] for p in body["cheap"]] == [f"{seed.prefix}-00", f"{seed.prefix}-01"]
    assert body["cheap"][0]["category"] == {"name": f"{seed.prefix} Child", "parent": {"slug": f"{seed.prefix}-root"}}
    order = body["orders"][0]
    assert order["customer"] == {"email": f"{seed.prefix}@example.com"}
    assert sorted(item["product"]["sku"] for item in order["items"]) == [f"{seed.prefix}-00", f"{seed.prefix}-01"]
    assert body["categories"] == [{"slug": f"{seed.prefix}-root", "children": [{"slug": f"{seed.prefix}-child"}]}]


async def test_offset_and_search_arguments(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    body = await run_query(
        client,
        auth,
        f'products(filter: "{seed.where()}", search: "gadget", order: "sku", limit: 2, offset: 1) {{ sku }}',
    )
    assert [p["sku"] for p in body["products"]] == [f"{seed.prefix}-03", f"{seed.prefix}-05"]


@pytest.mark.parametrize(
    ("query", "line", "column", "fragment"),
    [
        ("products { id, name ", 1, 21, "end of query"),
        ("products { id,\n  nosuch }", 2, 3, "no field or relation 'nosuch'"),
        ("widgets { id }", 1, 1, "Unknown entity set"),
        ("products { id } }", 1, 17, "Unexpected"),
        ("products(filter: \"stock eq 'x'\") { id }", 1, 25, "Cannot compare"),
        ('products(filter: "stock eq") { id }', 1, 27, "Expected a value"),
        ("products(limit: 100000) { id }", 1, 17, "between"),
        ('products(limit: "3") { id }', 1, 17, "whole number"),
        ("products(colour: 1) { id }", 1, 10, "Unknown argument"),
        ("products { category }", 1, 12, "is a relation"),
        ("products { name { id } }", 1, 12, "is a field"),
        ("products { category(limit: 1) { id } }", 1, 12, "single entity"),
        ("products { id(limit: 1) }", 1, 12, "only supported on roots and collection relations"),
        ("products { id } products { sku }", 1, 17, "asked twice"),
        ("products { id $ }", 1, 15, "Unexpected character"),
        ('products(order: "description") { id }', 1, 17, "not sortable"),
        ("products { category { parent { parent { parent { id } } } } }", 1, 41, "nest at most"),
        ("", 1, 1, "empty"),
        ("products { category { name } category { slug } }", 1, 30, "selected twice"),
    ],
)
async def test_query_errors_name_line_and_column(
    client: TestClient, auth: dict[str, str], query: str, line: int, column: int, fragment: str
) -> None:
    body = await run_query(client, auth, query, status=400)
    error = body["error"]
    assert (error["line"], error["column"]) == (line, column), error
    assert fragment in error["message"]
    assert error["target"] == "query"


async def test_a_document_selecting_more_relations_than_the_limit_is_refused_naming_it(
    client: TestClient, auth: dict[str, str]
) -> None:
    roots = "\n".join(f"r{index}: orders {{ customer {{ email }} items {{ quantity }} }}" for index in range(6))
    body = await run_query(client, auth, roots, status=400)
    error = body["error"]
    assert error["code"] == "query_limit_exceeded"
    assert (error["limit"], error["maximum"]) == ("relations_per_query", 10)
    assert (error["line"], error["column"]) == (6, 14)


async def test_query_needs_read_permission_on_every_resource_it_touches(
    client: TestClient, sign: Callable[..., dict[str, str]], seed: Seed
) -> None:
    products_only = sign(frozenset({"products:read"}))
    await run_query(client, products_only, f'products(filter: "{seed.where()}") {{ id }}')
    body = await run_query(client, products_only, "products { id category { name } }", status=403)
    assert "categories:read" in body["error"]["message"]
    await run_query(client, sign(frozenset()), "products { id }", status=403)


async def test_query_without_principal_is_401(client: TestClient) -> None:
    response = await client.post("/api/query", json={"query": "products { id }"})
    assert response.status == 401


@pytest.mark.parametrize("body", [b"not json", b'{"q": 1}', b'{"query": 5}', b"[]"])
async def test_malformed_query_bodies_are_400(client: TestClient, auth: dict[str, str], body: bytes) -> None:
    response = await client.post("/api/query", headers={**auth, "Content-Type": "application/json"}, data=body)
    assert response.status == 400


async def test_oversized_query_body_is_413(client: TestClient, auth: dict[str, str]) -> None:
    response = await client.post("/api/query", headers=auth, json={"query": "products { id }" + " " * 70_000})
    assert response.status == 413


def test_a_query_document_asked_again_reuses_its_parsed_plan() -> None:
    from services.odata.query_language import parse_query_document

    document = "products(limit: 3) { id name }  # plan-cache test"
    first = parse_query_document(document, 100, 1000)
    hits = parse_query_document.cache_info().hits
    assert parse_query_document(document, 100, 1000) is first
    assert parse_query_document.cache_info().hits == hits + 1
