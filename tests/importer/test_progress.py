"""A running job says how far it is: rows done of an estimated total, from the file's lines counted at upload."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from services.importer.app import open_database
from services.importer.config import Config
from services.importer.importing import run_job
from tests.importer.conftest import create_products_mapper, csv_form, tag


async def _queued(api_only: TestClient, headers: dict[str, str], csv: str, mapper: str) -> uuid.UUID:
    headers = {**headers, "Prefer": "respond-async"}
    response = await api_only.post("/api/import", data=csv_form(csv, "products", mapper), headers=headers)
    assert response.status == 202, await response.text()
    return uuid.UUID((await response.json())["id"])


async def _job(client: TestClient, headers: dict[str, str], job_id: uuid.UUID) -> dict[str, Any]:
    response = await client.get(f"/api/imports/{job_id}", headers=headers)
    assert response.status == 200
    return dict(await response.json())


async def test_a_queued_job_estimates_its_rows_from_the_lines_of_its_file(
    api_only: TestClient, as_user: dict[str, str]
) -> None:
    mapper = await create_products_mapper(api_only, as_user)
    t = tag()
    csv = "sku;name;price\n" + "".join(f"P-{t}-{n};Row {n};1,00\n" for n in range(6)) + f"P-{t}-last;Last;2,00"
    job = await _job(api_only, as_user, await _queued(api_only, as_user, csv, mapper))
    assert (job["status"], job["rowsDone"], job["rowsTotal"], job["rowsTotalEstimate"]) == ("queued", 0, None, 7)


async def test_a_running_job_reports_rows_done_and_its_total_between_batches(
    api_only: TestClient, importer_env: dict[str, str], as_user: dict[str, str]
) -> None:
    mapper = await create_products_mapper(api_only, as_user)
    t = tag()
    csv = "sku;name;price\n" + "".join(f"R-{t}-{n:02d};Row {n};{n},00\n" for n in range(8))
    job_id = await _queued(api_only, as_user, csv, mapper)
    seen: list[tuple[str, int, int | None]] = []

    async def look(rows_done: int) -> None:
        job = await _job(api_only, as_user, job_id)
        seen.append((job["status"], job["rowsDone"], job["rowsTotalEstimate"]))

    pool = await open_database(Config.from_env(importer_env))
    try:
        outcome = await run_job(pool, job_id, batch_rows=3, progress=look)
    finally:
        await pool.close()
    assert outcome is not None and outcome.status == "completed"
    # The header is the first batch's first record.
    assert seen == [("running", 2, 8), ("running", 5, 8), ("running", 8, 8)]
    job = await _job(api_only, as_user, job_id)
    assert (job["rowsDone"], job["rowsTotal"], job["rowsTotalEstimate"]) == (8, 8, 8)


async def test_the_estimate_follows_records_that_span_lines(
    api_only: TestClient, importer_env: dict[str, str], as_user: dict[str, str]
) -> None:
    mapper = await create_products_mapper(api_only, as_user)
    t = tag()
    # Every record spans two lines (a quoted line break in its name): 9 lines after the header, 4 records and a half.
    rows = "".join(f'S-{t}-{n};"Two\nlines";1,00\n' for n in range(4))
    job_id = await _queued(api_only, as_user, "sku;name;price\n" + rows + f"S-{t}-9;One;1,00\n", mapper)
    estimates: list[int] = []

    async def look(rows_done: int) -> None:
        estimates.append((await _job(api_only, as_user, job_id))["rowsTotalEstimate"])

    pool = await open_database(Config.from_env(importer_env))
    try:
        await run_job(pool, job_id, batch_rows=3, progress=look)
    finally:
        await pool.close()
    # Not the 9 data lines: after the first batch 2 rows in 3 lines (2 * 9 / 3), then 5 rows in all 9.
    assert estimates == [6, 5]
