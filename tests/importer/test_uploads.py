from __future__ import annotations

import asyncio

import asyncpg
from aiohttp.test_utils import TestClient

from tests.importer.conftest import csv_form, tag


async def test_an_upload_answers_200_with_counts_and_writes_the_rows(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    csv = (
        "sku;name;price;stock;description;active\n"
        f"T-{t}-1;Mug;9,50;3;Enamel;ja\n"
        f'T-{t}-2;Cap;12,00;;"Cotton; one size";nein\n'
        f'T-{t}-3;Bag;39,90;7;=HYPERLINK("http://evil");yes\n'
        f"T-{t}-4;Pen;1,00;1;Brass;no\n"
    )
    response = await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    assert response.status == 200, await response.text()
    result = await response.json()
    assert (result["status"], result["imported"], result["updated"], result["failed"]) == ("completed", 4, 0, 0)
    assert result["errors"] == []
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT sku, name, price::text, stock, description, active FROM catalog.products "
            "WHERE sku LIKE $1 ORDER BY sku",
            f"T-{t}-%",
        )
    finally:
        await conn.close()
    assert [tuple(row) for row in rows] == [
        (f"T-{t}-1", "Mug", "9.50", 3, "Enamel", True),
        (f"T-{t}-2", "Cap", "12.00", 0, "Cotton; one size", False),
        (f"T-{t}-3", "Bag", "39.90", 7, '=HYPERLINK("http://evil")', True),
        (f"T-{t}-4", "Pen", "1.00", 1, "Brass", False),
    ]


async def _catalog(database_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_a_second_upload_of_the_same_sku_counts_as_updated(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    first = f"sku;name;price\nU-{t}-1;Old name;1,00\n"
    response = await client.post("/api/import", data=csv_form(first, "products", products_mapper), headers=as_user)
    assert (await response.json())["imported"] == 1
    second = f"sku;name;price\nU-{t}-1;New name;2,50\nU-{t}-2;Other;3,00\n"
    response = await client.post("/api/import", data=csv_form(second, "products", products_mapper), headers=as_user)
    result = await response.json()
    assert (result["imported"], result["updated"], result["failed"]) == (1, 1, 0)
    rows = await _catalog(
        database_url, "SELECT sku, name, price::text FROM catalog.products WHERE sku LIKE $1 ORDER BY sku", f"U-{t}-%"
    )
    assert [tuple(row) for row in rows] == [(f"U-{t}-1", "New name", "2.50"), (f"U-{t}-2", "Other", "3.00")]


async def test_bad_rows_are_skipped_and_recorded_with_their_row_number(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    csv = (
        "sku;name;price;stock\n"  # line 1
        f"B-{t}-1;Good;1,00;1\n"  # line 2
        f"B-{t}-2;Bad price;abc;1\n"  # line 3
        ";No sku;1,00;1\n"  # line 4
        f"B-{t}-3;Too;many;fields;here\n"  # line 5
        f'B-{t}-4;"Two\nlines";2,00;2\n'  # lines 6-7
        f"B-{t}-5;Negative;-5,00;1\n"  # line 8: the database's CHECK (price >= 0) rejects it
        f"B-{t}-6;Last;3,00;x\n"  # line 9
    )
    response = await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    result = await response.json()
    assert (result["status"], result["imported"], result["failed"]) == ("completed", 2, 5), result
    errors = {error["row"]: error for error in result["errors"]}
    assert sorted(errors) == [3, 4, 5, 8, 9]
    assert errors[3]["column"] == "price" and errors[3]["value"] == "abc"
    assert "not a decimal" in errors[3]["message"]
    assert "required" in errors[4]["message"]
    assert "5 fields" in errors[5]["message"]
    assert "check constraint" in errors[8]["message"]
    assert errors[9]["column"] == "stock"
    rows = await _catalog(database_url, "SELECT name FROM catalog.products WHERE sku LIKE $1 ORDER BY sku", f"B-{t}-%")
    assert [row["name"] for row in rows] == ["Good", "Two\nlines"]


async def test_all_or_nothing_writes_nothing_when_one_row_is_bad(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    csv = f"sku;name;price\nA-{t}-1;Fine;1,00\nA-{t}-2;Broken;x\nA-{t}-3;Fine too;2,00\n"
    form = csv_form(csv, "products", products_mapper, policy="all_or_nothing")
    response = await client.post("/api/import", data=form, headers=as_user)
    result = await response.json()
    assert (result["status"], result["imported"], result["failed"]) == ("failed", 0, 1)
    assert "all_or_nothing" in result["error"]
    assert [error["row"] for error in result["errors"]] == [3]
    assert await _catalog(database_url, "SELECT 1 FROM catalog.products WHERE sku LIKE $1", f"A-{t}-%") == []


async def test_all_or_nothing_also_covers_rows_the_database_refuses(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    csv = f"sku;name;price\nD-{t}-1;Fine;1,00\nD-{t}-2;Negative;-1,00\n"
    form = csv_form(csv, "products", products_mapper, policy="all_or_nothing")
    result = await (await client.post("/api/import", data=form, headers=as_user)).json()
    assert result["status"] == "failed"
    assert [error["row"] for error in result["errors"]] == [3]
    assert await _catalog(database_url, "SELECT 1 FROM catalog.products WHERE sku LIKE $1", f"D-{t}-%") == []


async def test_a_key_given_twice_in_one_file_keeps_its_last_row(
    client: TestClient, as_user: dict[str, str], products_mapper: str, database_url: str
) -> None:
    t = tag()
    csv = f"sku;name;price\nR-{t};First;1,00\nR-{t};Second;2,00\n"
    result = await (
        await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    ).json()
    assert (result["imported"], result["updated"]) == (1, 1)
    rows = await _catalog(database_url, "SELECT name FROM catalog.products WHERE sku = $1", f"R-{t}")
    assert [row["name"] for row in rows] == ["Second"]


async def test_prefer_respond_async_answers_202_with_a_status_url(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    t = tag()
    csv = f"sku;name;price\nP-{t}-1;Async;1,00\n"
    headers = {**as_user, "Prefer": "respond-async"}
    response = await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=headers)
    assert response.status == 202
    body = await response.json()
    assert body["status"] == "queued"
    assert response.headers["Location"] == body["statusUrl"] == f"/api/imports/{body['id']}"
    for _ in range(100):
        status = await (await client.get(body["statusUrl"], headers=as_user)).json()
        if status["status"] == "completed":
            break
        await asyncio.sleep(0.1)
    assert (status["status"], status["imported"], status["rowsDone"], status["rowsTotal"]) == ("completed", 1, 1, 1)


async def test_an_upload_over_the_size_limit_is_refused_with_413(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    csv = "sku;name;price\n" + "X;y;1,00\n" * 30_000  # 270 kB against MAX_UPLOAD_BYTES=200000
    response = await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_a_file_that_is_not_utf8_fails_the_job_with_a_clear_error(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    csv = "sku;name;price\nN-1;Caf\xe9;1,00\n".encode("latin-1")
    result = await (
        await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    ).json()
    assert result["status"] == "failed"
    assert "not valid utf-8" in result["error"]


async def test_a_binary_file_fails_the_job_with_a_clear_error(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    data = b"sku;name;price\n\x00\x01\x02\x03PK\x00\x00"
    result = await (
        await client.post("/api/import", data=csv_form(data, "products", products_mapper), headers=as_user)
    ).json()
    assert result["status"] == "failed"
    assert "binary" in result["error"]


async def test_a_header_without_any_mapped_column_fails_the_job(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    csv = "foo;bar\n1;2\n"
    result = await (
        await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    ).json()
    assert result["status"] == "failed"
    assert "none of the mapped columns" in result["error"]


async def test_a_header_lacking_a_required_column_fails_the_job(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    csv = "sku;price\nH-1;1,00\n"
    result = await (
        await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
    ).json()
    assert result["status"] == "failed"
    assert "name" in result["error"]
