"""The job's message is written with the job (a transactional outbox): an importer killed between the commit and the
publish loses no job, because the next replica's outbox publisher sweeps up the message and the job runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from services.importer import db
from services.importer.app import create_app, open_database
from services.importer.config import Config
from tests.importer.conftest import PRODUCT_COLUMNS, csv_form, tag

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PausableRelay:
    """A TCP relay to the broker. While paused it holds every byte, as a broker that stopped answering would."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()
            for writer in self.writers:
                writer.close()
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(self.host, self.port)
        self.writers += [client_writer, broker_writer]
        pumps = {
            asyncio.create_task(self._pump(client_reader, broker_writer)),
            asyncio.create_task(self._pump(broker_reader, client_writer)),
        }
        self.tasks |= pumps
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for writer in (client_writer, broker_writer):
            writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()


def _start_importer(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.importer"],
        env={"PATH": os.environ.get("PATH", ""), **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def _ready(base: str) -> bool:
    with contextlib.suppress(aiohttp.ClientError):
        async with aiohttp.ClientSession() as session, session.get(f"{base}/readyz") as response:
            return response.status == 200
    return False


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
        port = _free_port()
        env = {**importer_env, "AMQP_URL": relayed, "LISTEN_PORT": str(port), "IMPORTER_WORKER": "false"}
        doomed = _start_importer(env)
        try:
            base = f"http://127.0.0.1:{port}"
            await eventually(lambda: _ready(base), 30, "the importer is ready")
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

        assert await eventually(finished, 30, "the job finishes") == "completed"
        assert await pool.fetchval("SELECT name FROM catalog.products WHERE sku = $1", f"K-{t}") == "Kept"
        assert await pool.fetchval(unpublished, str(job_id)) == 0
    finally:
        await pool.close()
