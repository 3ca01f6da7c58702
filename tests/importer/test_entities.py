"""Imports work for every entity of the model, not only products."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.importer.conftest import csv_form


async def _mapper(client: TestClient, headers: dict[str, str], entity: str, definition: dict[str, Any]) -> str:
    mapper_id = f"{entity.replace('_', '-')}-{secrets.token_hex(4)}"
    body = {"id": mapper_id, "entity": entity, "definition": definition}
    response = await client.post("/api/mappers", json=body, headers=headers)
    assert response.status == 201, await response.text()
    return mapper_id


async def test_customers_then_orders_import_with_dates_decimal_commas_and_no_header_row(
    client: TestClient, as_user: dict[str, str], database_url: str
) -> None:
    t = secrets.token_hex(4)
    customers = await _mapper(
        client,
        as_user,
        "customers",
        {"columns": [{"column": "Email", "field": "email", "case": "lower"}, {"column": "Land", "field": "country"}]},
    )
    csv = f"Email,Land\n  Buyer-{t}@Example.com ,DE\n"
    result = await (
        await client.post("/api/import", data=csv_form(csv, "customers", customers), headers=as_user)
    ).json()
    assert (result["status"], result["imported"]) == ("completed", 1), result
    conn = await asyncpg.connect(database_url)
    try:
        customer_id = await conn.fetchval("SELECT id FROM catalog.customers WHERE email = $1", f"buyer-{t}@example.com")
        assert customer_id is not None
        orders = await _mapper(
            client,
            as_user,
            "orders",
            {
                "header": False,
                "delimiter": ";",
                "columns": [
                    {"column": 1, "field": "number"},
                    {"column": 2, "field": "customer_id"},
                    {"column": 3, "field": "total", "decimalSeparator": ","},
                    {"column": 4, "field": "placed_at", "dateFormat": "%d.%m.%Y"},
                ],
            },
        )
        csv = (
            f"O-{t}-1;{customer_id};1.234,5;31.12.2025\n"
            f"O-{t}-2;{customer_id};12,50;31.12.2025\n"
            f"O-{t}-3;999999999;1,00;01.01.2026\n"
            f"O-{t}-4;{customer_id};2,00;2026-01-01\n"
        )
        form = csv_form(csv, "orders", orders)
        result = await (await client.post("/api/import", data=form, headers=as_user)).json()
        assert (result["status"], result["imported"], result["failed"]) == ("completed", 1, 3), result
        messages = {error["row"]: error["message"] for error in result["errors"]}
        assert "not a decimal" in messages[1]  # '.' is not this mapper's decimal separator
        assert "foreign key" in messages[3]  # no such customer: the database refuses it
        assert "31.12.2025" not in messages[4] and "%d.%m.%Y" in messages[4]
        row = await conn.fetchrow(
            "SELECT total::text, placed_at::date::text FROM catalog.orders WHERE number = $1", f"O-{t}-2"
        )
        assert tuple(row) == ("12.50", "2025-12-31")
    finally:
        await conn.close()
