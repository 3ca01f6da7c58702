"""Fixtures shared by the whole suite.

Every run gets its own PostgreSQL database and its own RabbitMQ name prefix, removed at the end, so runs never
collide. The servers come from DATABASE_URL / AMQP_URL; where those are unset and a Docker engine answers,
testcontainers starts them; otherwise the machine's local services on their standard ports are used.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest

from shared.bus import Topology, delete_topology

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def server_database_url() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif _docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
    else:
        yield LOCAL_DATABASE_URL


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    if os.environ.get("AMQP_URL"):
        yield os.environ["AMQP_URL"]
    elif _docker_engine_answers():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-alpine") as container:
            params = container.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/"
    else:
        yield LOCAL_AMQP_URL


@pytest.fixture(scope="session")
def database_url(server_database_url: str) -> Iterator[str]:
    """A fresh database for this run, dropped afterwards."""
    name = f"test_{secrets.token_hex(6)}"
    parts = urlsplit(server_database_url)
    run_url = urlunsplit(parts._replace(path=f"/{name}"))

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield run_url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def bus_prefix(amqp_url: str) -> Iterator[str]:
    """A name prefix for every exchange and queue this run declares, deleted afterwards."""
    prefix = f"test-{secrets.token_hex(6)}"
    yield prefix

    async def cleanup() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await delete_topology(channel, Topology(prefix))

    asyncio.run(cleanup())


@pytest.fixture(scope="session")
def signing_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def base_env(database_url: str, amqp_url: str, bus_prefix: str, signing_key: str) -> dict[str, str]:
    """The settings every service reads; a test adds its service's own and builds Config.from_env(env)."""
    return {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": bus_prefix,
        "INTERNAL_SIGNING_KEY": signing_key,
        "LISTEN_HOST": "127.0.0.1",
        "LISTEN_PORT": "0",
        "LOG_LEVEL": "WARNING",
        "SHUTDOWN_TIMEOUT": "5",
    }
