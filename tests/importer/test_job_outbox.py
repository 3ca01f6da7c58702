"""The job's message is written with the job (a transactional outbox): an importer killed between the commit and the
publish loses no job, because the next replica's outbox publisher sweeps up the message and the job runs."""

from __future__ import annotations

import signal
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from services.importer import db
from services.importer.app import create_app, open_database
from services.importer.config import Config
from tests.eventually import eventually
from tests.importer.conftest import PRODUCT_COLUMNS, csv_form, tag
from tests.importer.processes import PausableRelay, free_port, ready, start_importer


@pytest.mark.slow
async def test_an_importer_killed_between_committing_a_job_and_publishing_it_loses_no_job(
    aiohttp_client: Any, importer_env: dict[str, str], as_user: dict[str, str], amqp_url: str
) -> None:
    broker = urlsplit(amqp_url)
    relay = PausableRelay(broker.hostname or "127.0.0.1", broker.port or 5672)
    pool = await open_database(Config.from_env(importer_env))
    mapper_id = f"products-{tag().lower()}"
    await db.insert_mapper(
        pool, mapper_id, "products", "", {"delimiter": ";", "key": "sku", "columns": PRODUCT_COLUMNS}
    )
    async with relay.serving() as relay_port:
        relayed = urlunsplit(broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{relay_port}"))
        port = free_port()
        env = {**importer_env, "AMQP_URL": relayed, "LISTEN_PORT": str(port), "IMPORTER_WORKER": "false"}
        doomed = start_importer(env)
        try:
            base = f"http://127.0.0.1:{port}"
            await eventually(lambda: ready(base), timeout=30, what="the importer being ready")
            relay.flowing.clear()  # from here on nothing it publishes reaches the broker, nor any confirm
            t = tag()
            form = csv_form(f"sku;name;price\nK-{t};Kept;1,00\n", "products", mapper_id)
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{base}/api/import", data=form, headers={**as_user, "Prefer": "respond-async"}) as answer,
            ):
                assert answer.status == 202, await answer.text()
                job_id = uuid.UUID((await answer.json())["id"])
            doomed.send_signal(signal.SIGKILL)
            assert doomed.wait(20) == -signal.SIGKILL
        finally:
            if doomed.poll() is None:
                doomed.kill()
                doomed.wait(20)
    try:
        assert await pool.fetchval("SELECT status FROM importer.jobs WHERE id = $1", job_id) == "queued"
        unpublished = "SELECT count(*) FROM importer.job_outbox WHERE body->>'job_id' = $1 AND published_at IS NULL"
        assert await pool.fetchval(unpublished, str(job_id)) == 1

        await aiohttp_client(create_app(Config.from_env(importer_env)))  # the next replica, with its worker

        async def finished() -> str | None:
            status = await pool.fetchval("SELECT status FROM importer.jobs WHERE id = $1", job_id)
            return status if status in db.TERMINAL else None

        assert await eventually(finished, timeout=30, what="the job finishing") == "completed"
        assert await pool.fetchval("SELECT name FROM catalog.products WHERE sku = $1", f"K-{t}") == "Kept"
        assert await pool.fetchval(unpublished, str(job_id)) == 0
    finally:
        await pool.close()
