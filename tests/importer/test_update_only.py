"""Update-only mappers: rows update the catalog rows with their key and never insert, so insert-only fields may stay
unmapped."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import asyncpg
from aiohttp.test_utils import TestClient

from shared.principal import Principal
from tests.importer.conftest import csv_form, make_principal, tag

PRICES = {
    "delimiter": ";",
    "key": "sku",
    "updateOnly": True,
    "columns": [{"column": "sku", "field": "sku"}, {"column": "price", "field": "price", "decimalSeparator": ","}],
}


async def _mapper(client: TestClient, as_user: dict[str, str], definition: object) -> tuple[int, dict[str, object]]:
    body = {"id": f"prices-{secrets.token_hex(4)}", "entity": "products", "definition": definition}
    response = await client.post("/api/mappers", json=body, headers=as_user)
    return response.status, await response.json()


async def _product(database_url: str, sku: str) -> tuple[str, str] | None:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT name, price::text FROM catalog.products WHERE sku = $1", sku)
    finally:
        await conn.close()
    return None if row is None else (row["name"], row["price"])


async def test_an_update_only_mapper_without_the_fields_an_insert_needs_is_accepted(
    client: TestClient, as_user: dict[str, str]
) -> None:
    status, body = await _mapper(client, as_user, PRICES)
    assert status == 201, body
    assert body["definition"] == PRICES


async def test_the_same_mapper_without_update_only_is_refused_for_the_missing_insert_fields(
    client: TestClient, as_user: dict[str, str]
) -> None:
    status, body = await _mapper(client, as_user, {**PRICES, "updateOnly": False})
    assert status == 400
    assert "needs these fields on insert" in body["error"]["message"]


async def test_update_only_without_a_key_is_refused(client: TestClient, as_user: dict[str, str]) -> None:
    status, body = await _mapper(client, as_user, {**PRICES, "key": None})
    assert (status, body["error"]["target"]) == (400, "updateOnly")


async def test_an_update_only_import_updates_known_keys_and_rejects_unknown_ones_without_inserting(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    seeded = f"sku;name;price\nP-{t}-1;Mug;1,00\nP-{t}-2;Cap;2,00\n"
    response = await client.post("/api/import", data=csv_form(seeded, "products", products_mapper), headers=as_user)
    assert (await response.json())["imported"] == 2
    _, mapper = await _mapper(client, as_user, PRICES)
    prices = f"sku;price\nP-{t}-1;1,50\nP-{t}-9;9,00\nP-{t}-2;2,50\n"
    response = await client.post("/api/import", data=csv_form(prices, "products", str(mapper["id"])), headers=as_user)
    result = await response.json()
    assert (result["status"], result["imported"], result["updated"], result["failed"]) == ("completed", 0, 2, 1)
    assert [(e["row"], e["column"], e["value"]) for e in result["errors"]] == [(3, "sku", f"P-{t}-9")]
    assert await _product(database_url, f"P-{t}-1") == ("Mug", "1.50")
    assert await _product(database_url, f"P-{t}-2") == ("Cap", "2.50")
    assert await _product(database_url, f"P-{t}-9") is None


async def test_an_update_only_import_needs_the_update_permission_but_not_create(
    client: TestClient, as_user: dict[str, str], sign: Callable[[Principal], dict[str, str]]
) -> None:
    _, mapper = await _mapper(client, as_user, PRICES)
    form = csv_form(f"sku;price\nP-{tag()};1,00\n", "products", str(mapper["id"]))
    updater = sign(make_principal("imports:create", "imports:read", "products:update"))
    response = await client.post("/api/import", data=form, headers=updater)
    assert response.status == 200, await response.text()
    creator = sign(make_principal("imports:create", "imports:read", "products:create"))
    form = csv_form(f"sku;price\nP-{tag()};1,00\n", "products", str(mapper["id"]))
    assert (await client.post("/api/import", data=form, headers=creator)).status == 403


async def test_an_update_only_batch_redone_row_by_row_still_never_inserts(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    seeded = f"sku;name;price\nP-{t}-1;Mug;1,00\nP-{t}-2;Cap;2,00\n"
    await client.post("/api/import", data=csv_form(seeded, "products", products_mapper), headers=as_user)
    _, mapper = await _mapper(client, as_user, PRICES)
    # The negative price breaks the table's check, so the batch (BATCH_ROWS=3) is redone one row at a time.
    prices = f"sku;price\nP-{t}-1;-1,00\nP-{t}-2;2,50\nP-{t}-9;9,00\n"
    response = await client.post("/api/import", data=csv_form(prices, "products", str(mapper["id"])), headers=as_user)
    result = await response.json()
    assert (result["status"], result["imported"], result["updated"], result["failed"]) == ("completed", 0, 1, 2)
    assert [error["row"] for error in result["errors"]] == [2, 4]
    assert await _product(database_url, f"P-{t}-1") == ("Mug", "1.00")
    assert await _product(database_url, f"P-{t}-2") == ("Cap", "2.50")
    assert await _product(database_url, f"P-{t}-9") is None
