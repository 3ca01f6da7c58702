"""The worker reports results back on the bus; a job given up by RabbitMQ is marked failed, never left stuck."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
from aiohttp.test_utils import TestClient

from services.importer import db
from services.importer.app import open_database
from services.importer.config import Config
from services.importer.keys import PUBLISHER
from shared import bus
from shared.messages import ImportJobFinished, ImportJobRequested
from tests.importer.conftest import csv_form, tag


async def test_a_finished_job_is_announced_on_the_import_events_exchange(
    client: TestClient, as_user: dict[str, str], products_mapper: str, amqp_url: str, bus_prefix: str
) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(bus.Topology(bus_prefix).import_events_exchange)
        csv = f"sku;name;price\nEV-{tag()};Event;1,00\nEV-{tag()};Event;x\n"
        response = await client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers=as_user)
        job_id = (await response.json())["id"]
        finished = None
        for _ in range(100):
            message = await queue.get(fail=False, no_ack=True)
            if message is None:
                await asyncio.sleep(0.05)
            elif message.type == ImportJobFinished.KIND:
                event = ImportJobFinished.decode(message.body)
                if event.job_id == job_id:
                    finished = event
                    break
        assert finished == ImportJobFinished(job_id=job_id, status="completed", imported=1, updated=0, failed=1)


async def test_a_dead_lettered_job_is_marked_failed(
    client: TestClient, importer_env: dict[str, str], bus_prefix: str
) -> None:
    # A job RabbitMQ gave up on after its delivery limit arrives on the dead-letter exchange; it was never
    # published to the jobs queue here, so only the worker's dead-letter consumer can touch it.
    pool = await open_database(Config.from_env(importer_env))
    job_id = uuid.uuid4()
    try:
        await db.insert_job(
            pool,
            job_id=job_id,
            entity="products",
            mapper_id="gone",
            definition={},
            policy="skip",
            file_name="dead.csv",
            size_bytes=1,
            requested_by="test",
        )
        await bus.publish(
            client.app[PUBLISHER],
            bus.Topology(bus_prefix).imports_dead_exchange,
            ImportJobRequested(job_id=str(job_id), entity="products", mapper_id="gone"),
        )
        for _ in range(100):
            job = await db.get_job(pool, job_id)
            if job is not None and job["status"] == "failed":
                break
            await asyncio.sleep(0.05)
        assert job is not None and job["status"] == "failed" and "given up" in job["error"]
    finally:
        await pool.close()
