"""The end of a job is written with its outcome (a transactional outbox): a worker killed between the job's commit and
the publish loses none of its events, because the next replica's outbox publisher sweeps them up. Delivery is at
least once (a crash between the broker's confirm and marking the row published repeats a message); consumers drop a
repeat by its event id."""

from __future__ import annotations

import json
import signal
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest

from services.importer import db
from services.importer.app import create_app, open_database
from services.importer.config import Config
from shared import bus, outbox
from shared.messages import ImportJobFinished, ImportJobRequested
from tests.eventually import eventually
from tests.importer.conftest import PRODUCT_COLUMNS, tag
from tests.importer.processes import PausableRelay, free_port, ready, start_importer


def _lock_key(job_id: uuid.UUID) -> int:
    # The key the worker's lock_job takes for the job.
    return int.from_bytes(job_id.bytes[:8], "big", signed=True)


async def _queue_job(pool: asyncpg.Pool, mapper_id: str, csv: str) -> uuid.UUID:
    """What an upload commits: the job, its bytes and its message in the job outbox."""
    job_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        mapper = await db.get_mapper(conn, mapper_id)
        assert mapper is not None
        await db.insert_job(
            conn,
            job_id=job_id,
            entity="products",
            mapper_id=mapper_id,
            definition=mapper["definition"],
            policy="skip",
            file_name="events.csv",
            size_bytes=len(csv.encode()),
            requested_by="user:1",
        )
        await db.insert_chunk(conn, job_id, 0, csv.encode())
        await outbox.write(
            conn, db.JOB_OUTBOX, ImportJobRequested(job_id=str(job_id), entity="products", mapper_id=mapper_id)
        )
    return job_id


async def _worker_waits_for(pool: asyncpg.Pool, job_id: uuid.UUID) -> bool:
    """A worker has the job in hand: it waits for the job's lock, which the test holds."""
    return await pool.fetchval(
        """SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                          AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint)""",
        _lock_key(job_id),
    )


@pytest.mark.slow
async def test_a_worker_killed_between_committing_a_job_and_publishing_its_end_loses_no_event(
    aiohttp_client: Any, importer_env: dict[str, str], amqp_url: str, bus_prefix: str
) -> None:
    broker = urlsplit(amqp_url)
    relay = PausableRelay(broker.hostname or "127.0.0.1", broker.port or 5672)
    topology = bus.Topology(bus_prefix)
    pool = await open_database(Config.from_env(importer_env))
    mapper_id = f"products-{tag().lower()}"
    await db.insert_mapper(
        pool, mapper_id, "products", "", {"delimiter": ";", "key": "sku", "columns": PRODUCT_COLUMNS}
    )
    listener = await aio_pika.connect(amqp_url)
    holder = await pool.acquire()
    try:
        channel = await listener.channel()
        await bus.declare_topology(channel, topology)
        heard = await channel.declare_queue(exclusive=True, auto_delete=True)
        await heard.bind(topology.import_events_exchange)
        job_id = await _queue_job(pool, mapper_id, f"sku;name;price\nEO-{tag()};Announced;1,00\n")
        await holder.execute("SELECT pg_advisory_lock($1)", _lock_key(job_id))
        async with relay.serving() as relay_port:
            relayed = urlunsplit(broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{relay_port}"))
            port = free_port()
            doomed = start_importer(
                {**importer_env, "AMQP_URL": relayed, "LISTEN_PORT": str(port), "IMPORTER_WORKER": "true"}
            )
            try:
                await eventually(lambda: ready(f"http://127.0.0.1:{port}"), timeout=30, what="the importer being ready")
                await eventually(lambda: _worker_waits_for(pool, job_id), timeout=30, what="the worker taking the job")
                relay.flowing.clear()  # from here on nothing it publishes reaches the broker, nor any confirm
                await holder.execute("SELECT pg_advisory_unlock($1)", _lock_key(job_id))
                status = await eventually(
                    lambda: _terminal(pool, job_id), timeout=30, interval=0.05, what="the job's commit"
                )
                assert status == "completed"
                doomed.send_signal(signal.SIGKILL)
                assert doomed.wait(20) == -signal.SIGKILL
            finally:
                if doomed.poll() is None:
                    doomed.kill()
                    doomed.wait(20)
            unpublished = await _event_rows(pool, job_id, published=False)
            assert "import.completed" in unpublished and "import.finished" in unpublished
            assert await _event_rows(pool, job_id, published=True) == []

            await aiohttp_client(create_app(Config.from_env(importer_env)))  # the next replica

            await eventually(
                lambda: _all_published(pool, job_id), timeout=30, interval=0.05, what="the events' publication"
            )
            received = await _drain(heard, str(job_id))
    finally:
        await pool.release(holder)
        await listener.close()
        await pool.close()
    expected = {f"import.completed:{job_id}", f"product.created:{job_id}:1"}
    assert Counter(received["events"]) == Counter(expected)
    assert received["finished"] == [
        ImportJobFinished(job_id=str(job_id), status="completed", imported=1, updated=0, failed=0)
    ]


async def _terminal(pool: asyncpg.Pool, job_id: uuid.UUID) -> str | None:
    status = await db.job_status(pool, job_id)
    return status if status in db.TERMINAL else None


async def _event_rows(pool: asyncpg.Pool, job_id: uuid.UUID, *, published: bool) -> list[str]:
    return [
        row["kind"]
        for row in await pool.fetch(
            """SELECT body->>'kind' AS kind FROM importer.event_outbox
               WHERE body->>'job_id' = $1 AND (published_at IS NOT NULL) = $2 ORDER BY id""",
            str(job_id),
            published,
        )
    ]


async def _all_published(pool: asyncpg.Pool, job_id: uuid.UUID) -> bool:
    return bool(await _event_rows(pool, job_id, published=True)) and not await _event_rows(
        pool, job_id, published=False
    )


async def _drain(queue: aio_pika.abc.AbstractQueue, job_id: str) -> dict[str, list[Any]]:
    """The job's platform event ids and ImportJobFinished messages the queue holds, in order."""
    received: dict[str, list[Any]] = {"events": [], "finished": []}
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        body = json.loads(message.body)
        if body.get("job_id") != job_id:
            continue
        if message.type == ImportJobFinished.KIND:
            received["finished"].append(ImportJobFinished.decode(message.body))
        elif "event_id" in body:
            received["events"].append(body["event_id"])
    return received
