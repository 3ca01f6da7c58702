"""Batches are written one after another inside the job's transaction (the next one parsed meanwhile): counts and
rows must be those of the file as a whole, whichever batch a row falls into (BATCH_ROWS is 3 in these tests)."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient

from tests.importer.conftest import csv_form, tag


async def _names(database_url: str, pattern: str) -> dict[str, str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT sku, name FROM catalog.products WHERE sku LIKE $1", pattern)
    finally:
        await conn.close()
    return {row["sku"]: row["name"] for row in rows}


async def test_a_key_repeated_in_a_later_batch_is_one_row_with_its_last_values_and_counts_as_an_update(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    existing = f"sku;name;price\nB-{t}-OLD;Before;1,00\n"
    first = await (
        await client.post("/api/import", data=csv_form(existing, "products", products_mapper), headers=as_user)
    ).json()
    assert (first["imported"], first["updated"]) == (1, 0)
    lines = [
        f"B-{t}-A;A first;1,00",
        f"B-{t}-B;B only;1,00",
        f"B-{t}-OLD;Old again;1,00",
        f"B-{t}-C;C only;1,00",
        f"B-{t}-A;A second;1,00",
        f"B-{t}-D;D only;1,00",
        f"B-{t}-E;E only;1,00",
        f"B-{t}-A;A last;1,00",
    ]
    csv = "sku;name;price\n" + "\n".join(lines) + "\n"
    result = await (
        await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    ).json()
    # New keys A, B, C, D, E; A's two later rows and the existing key's row are updates.
    assert (result["status"], result["imported"], result["updated"], result["failed"]) == ("completed", 5, 3, 0)
    assert result["rowsTotal"] == 8
    assert await _names(database_url, f"B-{t}-%") == {
        f"B-{t}-OLD": "Old again",
        f"B-{t}-A": "A last",
        f"B-{t}-B": "B only",
        f"B-{t}-C": "C only",
        f"B-{t}-D": "D only",
        f"B-{t}-E": "E only",
    }


async def test_a_row_the_database_refuses_in_a_middle_batch_is_reported_and_the_other_batches_are_kept(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    # A negative price is a decimal to the mapper, but the table's check refuses it.
    lines = [f"B-{t}-1;One;1,00", f"B-{t}-2;Two;1,00", f"B-{t}-3;Three;1,00", f"B-{t}-4;Negative;-1,00"]
    lines += [f"B-{t}-5;Five;1,00", f"B-{t}-6;Six;1,00", f"B-{t}-7;Seven;1,00"]
    csv = "sku;name;price\n" + "\n".join(lines) + "\n"
    result = await (
        await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    ).json()
    assert (result["status"], result["imported"], result["updated"], result["failed"]) == ("completed", 6, 0, 1)
    assert [error["row"] for error in result["errors"]] == [5]
    assert result["errors"][0]["message"].startswith("rejected by the database")
    assert sorted(await _names(database_url, f"B-{t}-%")) == sorted(f"B-{t}-{n}" for n in (1, 2, 3, 5, 6, 7))
