"""Nothing lost, nothing doubled: a job interrupted mid-way, or delivered twice, ends with exactly its rows."""

from __future__ import annotations

import logging
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.importer.app import open_database
from services.importer.config import Config
from services.importer.importing import run_job
from tests.eventually import eventually
from tests.importer.conftest import create_products_mapper, csv_form, tag

ROWS = 10


class WorkerKilled(Exception):
    pass


async def _queued_job(api_only: TestClient, headers: dict[str, str], mapper: str) -> tuple[uuid.UUID, str]:
    """An upload taken by an API-only replica: stored and queued, not processed."""
    t = tag()
    csv = "sku;name;price\n" + "".join(f"K-{t}-{n:02d};Row {n};{n},00\n" for n in range(ROWS))
    headers = {**headers, "Prefer": "respond-async"}
    response = await api_only.post("/api/import", data=csv_form(csv, "products", mapper), headers=headers)
    assert response.status == 202
    return uuid.UUID((await response.json())["id"]), t


async def _count(pool: asyncpg.Pool, t: str) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM catalog.products WHERE sku LIKE $1", f"K-{t}-%"))


async def test_a_job_interrupted_mid_way_and_redelivered_ends_with_exactly_its_rows(
    api_only: TestClient, importer_env: dict[str, str], as_user: dict[str, str]
) -> None:
    mapper = await create_products_mapper(api_only, as_user)
    job_id, t = await _queued_job(api_only, as_user, mapper)
    pool = await open_database(Config.from_env(importer_env))
    try:

        async def die_after_first_batch(rows_done: int) -> None:
            raise WorkerKilled()

        try:
            await run_job(pool, job_id, batch_rows=3, progress=die_after_first_batch)
        except WorkerKilled:
            pass
        else:
            raise AssertionError("the job should have been interrupted")
        assert await _count(pool, t) == 0  # the interrupted attempt left nothing behind

        async def quiet(rows_done: int) -> None:
            return None

        first = await run_job(pool, job_id, batch_rows=3, progress=quiet)
        again = await run_job(pool, job_id, batch_rows=3, progress=quiet)
        assert first is not None and again is not None
        assert (first.status, first.imported, first.updated, first.failed) == ("completed", ROWS, 0, 0)
        assert again == first  # a delivery after the commit changes nothing
        assert await _count(pool, t) == ROWS
        job = await pool.fetchrow("SELECT attempts, imported, rows_total FROM importer.jobs WHERE id = $1", job_id)
        assert (job["attempts"], job["imported"], job["rows_total"]) == (2, ROWS, ROWS)
        assert await pool.fetchval("SELECT count(*) FROM importer.upload_chunks WHERE job_id = $1", job_id) == 0
    finally:
        await pool.close()


async def test_a_queued_job_is_processed_once_by_a_worker_even_when_its_message_comes_twice(
    api_only: TestClient,
    importer_env: dict[str, str],
    as_user: dict[str, str],
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mapper = await create_products_mapper(api_only, as_user)
    job_id, t = await _queued_job(api_only, as_user, mapper)
    caplog.set_level(logging.INFO, logger="services.importer.worker")
    pool = await open_database(Config.from_env(importer_env))
    try:
        # The API-only replica published the job once; publish it again as a redelivery would bring it.
        from services.importer.keys import PUBLISHER
        from shared import bus
        from shared.messages import ImportJobRequested

        await bus.publish(
            client.app[PUBLISHER],
            bus.Topology(importer_env["BUS_PREFIX"]).imports_exchange,
            ImportJobRequested(job_id=str(job_id), entity="products", mapper_id=mapper),
            routing_key="job",
        )
        # The worker logs each delivery it settled: both, the second finding the job already completed.
        await eventually(
            lambda: caplog.text.count(f"import job {job_id} completed") == 2, timeout=10, what="both deliveries"
        )
        job = await pool.fetchrow("SELECT status, imported, updated FROM importer.jobs WHERE id = $1", job_id)
        assert tuple(job) == ("completed", ROWS, 0)
        assert await _count(pool, t) == ROWS
    finally:
        await pool.close()


async def test_a_queued_job_can_be_cancelled_and_is_then_never_imported(
    api_only: TestClient, importer_env: dict[str, str], as_user: dict[str, str]
) -> None:
    mapper = await create_products_mapper(api_only, as_user)
    job_id, t = await _queued_job(api_only, as_user, mapper)
    response = await api_only.post(f"/api/imports/{job_id}/cancel", headers=as_user)
    assert response.status == 200
    assert (await response.json())["status"] == "cancelled"
    pool = await open_database(Config.from_env(importer_env))
    try:

        async def quiet(rows_done: int) -> None:
            return None

        outcome = await run_job(pool, job_id, batch_rows=3, progress=quiet)
        assert outcome is not None and outcome.status == "cancelled"
        assert await _count(pool, t) == 0
    finally:
        await pool.close()
