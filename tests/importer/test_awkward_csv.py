"""Files as users send them (spreadsheet exports, legacy shop systems) import like clean ones."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.importer.conftest import PRODUCT_COLUMNS, csv_form, tag


async def _mapper(client: TestClient, as_user: dict[str, str], **dialect: Any) -> str:
    mapper_id = f"products-{secrets.token_hex(4)}"
    body = {"id": mapper_id, "entity": "products", "definition": {**dialect, "key": "sku", "columns": PRODUCT_COLUMNS}}
    response = await client.post("/api/mappers", json=body, headers=as_user)
    assert response.status == 201, await response.text()
    return mapper_id


async def _names(database_url: str, t: str) -> list[tuple[str, str, str]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT sku, name, description FROM catalog.products WHERE sku LIKE $1 ORDER BY sku", f"W-{t}-%"
        )
    finally:
        await conn.close()
    return [tuple(row) for row in rows]


async def test_a_latin1_semicolon_crlf_export_with_stray_quotes_and_line_breaks_imports_every_row(
    client: TestClient, as_user: dict[str, str], database_url: str
) -> None:
    mapper_id = await _mapper(client, as_user, delimiter=";", encoding="latin-1")
    t = tag()
    csv = (
        "sku;name;price;description\r\n"
        f'W-{t}-1;12" Pizza;9,50;Käse\r\n'
        f'W-{t}-2;Crème brûlée;4,00;"first line\r\nsecond; line"\r\n'
        f"W-{t}-3;Tarte;2,00;\r\n"
    ).encode("latin-1")
    response = await client.post("/api/import", data=csv_form(csv, "products", mapper_id), headers=as_user)
    result = await response.json()
    assert (result["status"], result["imported"], result["failed"]) == ("completed", 3, 0), result
    assert await _names(database_url, t) == [
        (f"W-{t}-1", '12" Pizza', "Käse"),
        (f"W-{t}-2", "Crème brûlée", "first line\r\nsecond; line"),
        (f"W-{t}-3", "Tarte", ""),
    ]


async def test_a_utf8_export_with_a_byte_order_mark_and_a_quoted_header_imports(
    client: TestClient, as_user: dict[str, str], database_url: str
) -> None:
    mapper_id = await _mapper(client, as_user, delimiter=",")
    t = tag()
    csv = f'"sku","name","price"\nW-{t}-1,Brötchen,"1,5"\n'.encode("utf-8-sig")
    response = await client.post("/api/import", data=csv_form(csv, "products", mapper_id), headers=as_user)
    result = await response.json()
    assert (result["status"], result["imported"], result["failed"]) == ("completed", 1, 0), result
    assert await _names(database_url, t) == [(f"W-{t}-1", "Brötchen", "")]
