"""Fixtures of the restart tests: private servers started per test, and the importer as a real process."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest

from shared.bus import Topology, delete_topology
from tests.chaos.servers import PrivatePostgres, PrivateRabbit, ServerUnavailable


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: its parents are private to the current user, and the servers may run as another.
    path = Path(tempfile.mkdtemp(prefix="chaos-"))
    path.chmod(0o755)  # the servers' system users must reach their own subdirectories
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def private_postgres(workdir: Path) -> Iterator[PrivatePostgres]:
    try:
        (workdir / "postgres").mkdir()
        server = PrivatePostgres(workdir / "postgres")
    except ServerUnavailable as error:
        pytest.skip(str(error))
    server.create()
    server.start()
    # The catalog has one owner of its migrations, run before the services as the launcher and compose's init do.
    subprocess.run(
        [sys.executable, "-m", "shared.catalog.migrate"],
        env={**os.environ, "DATABASE_URL": server.url},
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield server
    finally:
        if server.running():
            server.stop("immediate")


@pytest.fixture
def private_rabbit(workdir: Path) -> Iterator[PrivateRabbit]:
    try:
        (workdir / "rabbitmq").mkdir()
        server = PrivateRabbit(workdir / "rabbitmq")
    except ServerUnavailable as error:
        pytest.skip(str(error))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_bus_prefix(amqp_url: str) -> Iterator[str]:
    """A prefix of this test's own on the shared broker, so no other worker of the run can take its jobs."""
    prefix = f"chaos-{secrets.token_hex(6)}"
    yield prefix

    async def cleanup() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            await delete_topology(await connection.channel(), Topology(prefix))

    asyncio.run(cleanup())
