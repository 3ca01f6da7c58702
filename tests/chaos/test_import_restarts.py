"""Nothing lost, nothing doubled: RabbitMQ or PostgreSQL restarts in the middle of an import job.

The importer runs as a real process (API and worker) and is driven over HTTP with a signed principal; the server
that restarts is a private one (tests/chaos/servers.py). The job must end completed with exactly its rows and
counts, and the service must take new imports afterwards without being restarted itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import pytest

from shared.bus import Topology
from shared.principal import sign_principal
from tests.chaos.servers import ImporterProcess, PrivatePostgres, PrivateRabbit
from tests.importer.conftest import PRODUCT_COLUMNS, csv_form, everything, make_principal, tag

ROWS = 300_000
SMALL_ROWS = 5
TERMINAL = ("completed", "failed", "cancelled")


class ImporterApi:
    """The importer's HTTP API as the gateway would call it: every request with a freshly signed principal."""

    def __init__(self, session: aiohttp.ClientSession, importer: ImporterProcess, signing_key: str) -> None:
        self.session = session
        self.importer = importer
        self.key = signing_key.encode()
        self.principal = make_principal(*everything())

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-Platform-Principal": sign_principal(self.principal, self.key, "importer"), **extra}

    async def wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                async with self.session.get(f"{self.importer.url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"the importer never became ready:\n{self.importer.output()}")

    async def create_mapper(self) -> str:
        mapper_id = f"products-{tag().lower()}"
        body = {
            "id": mapper_id,
            "entity": "products",
            "definition": {"delimiter": ";", "key": "sku", "columns": PRODUCT_COLUMNS},
        }
        async with self.session.post(f"{self.importer.url}/api/mappers", json=body, headers=self.headers()) as r:
            assert r.status == 201, await r.text()
        return mapper_id

    async def upload(self, csv: str, mapper_id: str, **headers: str) -> tuple[int, dict[str, Any]]:
        form = csv_form(csv, "products", mapper_id)
        async with self.session.post(
            f"{self.importer.url}/api/import", data=form, headers=self.headers(**headers)
        ) as response:
            return response.status, await response.json()

    async def job(self, job_id: str) -> dict[str, Any] | None:
        """The job's view, or None while the service cannot answer (its database is restarting)."""
        try:
            async with self.session.get(
                f"{self.importer.url}/api/imports/{job_id}", headers=self.headers()
            ) as response:
                return await response.json() if response.status == 200 else None
        except aiohttp.ClientError:
            return None

    async def wait_for(
        self, job_id: str, condition: Callable[[dict[str, Any]], bool], seconds: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        last = None
        while time.monotonic() < deadline:
            job = await self.job(job_id)
            if job is not None:
                last = job
                if condition(job):
                    return job
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {job_id} stuck at {last}:\n{self.importer.output()}")


def products_csv(t: str, rows: int) -> str:
    return "sku;name;price\n" + "".join(f"R-{t}-{n};Row {n};{n % 500},25\n" for n in range(rows))


def mid_job(job: dict[str, Any]) -> bool:
    return job["status"] == "running" and job["rowsDone"] > 0


def ended(job: dict[str, Any]) -> bool:
    return job["status"] in TERMINAL


async def count_rows(database_url: str, t: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM catalog.products WHERE sku LIKE $1", f"R-{t}-%"))
    finally:
        await conn.close()


async def a_new_import_works(api: ImporterApi, mapper: str, database_url: str) -> None:
    """The service recovered by itself: upload, queue, worker, result event and database all work again."""
    await api.wait_ready(60)
    t = tag()
    status, body = await api.upload(products_csv(t, SMALL_ROWS), mapper)
    assert status == 200, (body, api.importer.output())
    assert (body["status"], body["imported"], body["updated"], body["failed"]) == ("completed", SMALL_ROWS, 0, 0)
    assert await count_rows(database_url, t) == SMALL_ROWS


def importer_env(base_env: dict[str, str], **settings: str) -> dict[str, str]:
    return {
        **base_env,
        "BATCH_ROWS": "1000",
        "MAX_UPLOAD_BYTES": "40000000",
        "IMPORT_WAIT_SECONDS": "20",
        "LOG_LEVEL": "INFO",
        **settings,
    }


@pytest.mark.slow
@pytest.mark.parametrize("restart", ["node", "app"], ids=["whole-node", "broker-app"])
async def test_a_rabbitmq_restart_in_the_middle_of_a_job_loses_nothing_and_doubles_nothing(
    private_rabbit: PrivateRabbit,
    base_env: dict[str, str],
    database_url: str,
    signing_key: str,
    workdir: Path,
    restart: str,
) -> None:
    """whole-node: the node stops and starts again (about ten seconds), so the job ends while the broker is away
    and its acknowledgement is lost. broker-app: only the broker application restarts (a few seconds), so the
    job is still running when the connection comes back and its message is redelivered meanwhile."""
    prefix = f"chaos-{tag().lower()}"
    importer = ImporterProcess(
        importer_env(base_env, AMQP_URL=private_rabbit.url, BUS_PREFIX=prefix), workdir / "importer.log"
    )
    importer.start()
    try:
        async with aiohttp.ClientSession() as session:
            api = ImporterApi(session, importer, signing_key)
            await api.wait_ready(60)
            mapper = await api.create_mapper()
            t = tag()
            status, body = await api.upload(products_csv(t, ROWS), mapper, Prefer="respond-async")
            assert status == 202, body
            job_id = body["id"]
            await api.wait_for(job_id, mid_job, 30)
            await asyncio.to_thread(private_rabbit.stop if restart == "node" else private_rabbit.stop_app)
            job = await api.job(job_id)
            assert job is not None and job["status"] == "running"  # the broker went away in the middle of the job
            await asyncio.to_thread(private_rabbit.start if restart == "node" else private_rabbit.start_app)
            job = await api.wait_for(job_id, ended, 60)
            assert (job["status"], job["imported"], job["updated"], job["failed"]) == ("completed", ROWS, 0, 0)
            assert job["rowsTotal"] == ROWS
            assert await count_rows(database_url, t) == ROWS
            await a_new_import_works(api, mapper, database_url)
    finally:
        exit_code = importer.stop()
    assert exit_code == 0, importer.output()
    # Every job message was acknowledged: nothing is left on the broker to be redone.
    connection = await aio_pika.connect(private_rabbit.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(Topology(prefix).imports_queue, passive=True)
        assert queue.declaration_result.message_count == 0


@pytest.mark.slow
async def test_a_postgresql_restart_in_the_middle_of_a_job_loses_nothing_and_doubles_nothing(
    private_postgres: PrivatePostgres, base_env: dict[str, str], own_bus_prefix: str, signing_key: str, workdir: Path
) -> None:
    importer = ImporterProcess(
        importer_env(base_env, DATABASE_URL=private_postgres.url, BUS_PREFIX=own_bus_prefix), workdir / "importer.log"
    )
    importer.start()
    try:
        async with aiohttp.ClientSession() as session:
            api = ImporterApi(session, importer, signing_key)
            await api.wait_ready(60)
            mapper = await api.create_mapper()
            t = tag()
            status, body = await api.upload(products_csv(t, ROWS), mapper, Prefer="respond-async")
            assert status == 202, body
            job_id = body["id"]
            await api.wait_for(job_id, mid_job, 30)
            # Immediate: the server dies as in a crash and recovers from its WAL; it stays down for a while, so
            # the worker meets refused connections, not only a broken one.
            await asyncio.to_thread(private_postgres.stop, "immediate")
            await asyncio.sleep(3)
            await asyncio.to_thread(private_postgres.start)
            job = await api.wait_for(job_id, ended, 60)
            assert (job["status"], job["imported"], job["updated"], job["failed"]) == ("completed", ROWS, 0, 0)
            assert job["rowsTotal"] == ROWS
            assert await count_rows(private_postgres.url, t) == ROWS
            conn = await asyncpg.connect(private_postgres.url)
            try:
                attempts = await conn.fetchval("SELECT attempts FROM importer.jobs WHERE id = $1::uuid", job_id)
            finally:
                await conn.close()
            assert attempts >= 2  # the interrupted attempt was rolled back and the job redone
            await a_new_import_works(api, mapper, private_postgres.url)
    finally:
        exit_code = importer.stop()
    assert exit_code == 0, importer.output()
