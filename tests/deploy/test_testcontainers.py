"""The suite's testcontainers fallback, used for real: a throwaway PostgreSQL and RabbitMQ, a migration applied
and a message sent through the bus. Skipped without a Docker engine (CI starts one and points TEST_POSTGRES_IMAGE
and TEST_RABBITMQ_IMAGE at the Debian-built stand-ins)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator

import aio_pika
import pytest

from shared.catalog.schema import migrate as migrate_catalog
from shared.db import create_pool
from tests.conftest import postgres_container, rabbitmq_container


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.skipif(not engine_answers(), reason="no Docker engine answers"),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def container_urls() -> Iterator[tuple[str, str]]:
    with postgres_container() as database_url, rabbitmq_container() as amqp_url:
        yield database_url, amqp_url


async def test_migrations_apply_on_a_throwaway_postgresql(container_urls: tuple[str, str]) -> None:
    pool = await create_pool(container_urls[0])
    try:
        applied = await migrate_catalog(pool)
        assert applied
        assert await pool.fetchval("SELECT count(*) FROM catalog.schema_migrations") == len(applied)
    finally:
        await pool.close()


async def test_a_message_goes_round_trip_on_a_throwaway_rabbitmq(container_urls: tuple[str, str]) -> None:
    connection = await aio_pika.connect(container_urls[1])
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        body = os.urandom(16)
        await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue.name)
        message = await queue.get(timeout=10, fail=False)
        for _ in range(50):
            if message is not None:
                break
            await asyncio.sleep(0.1)
            message = await queue.get(fail=False)
        assert message is not None and message.body == body
        await message.ack()
