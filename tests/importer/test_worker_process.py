"""A worker process killed with SIGKILL in the middle of a job: the job is redone and ends with exactly its rows."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.importer.app import create_app
from services.importer.config import Config
from tests.importer.conftest import create_products_mapper, csv_form, tag

ROOT = Path(__file__).resolve().parents[2]
ROWS = 60_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    worker_env = {
        "PATH": os.environ.get("PATH", ""),
        **env,
        "LISTEN_PORT": str(_free_port()),
        "BATCH_ROWS": "500",
        "IMPORTER_WORKER": "true",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.importer"],
        env=worker_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_for(pool: asyncpg.Pool, job_id: uuid.UUID, condition: str, seconds: float) -> asyncpg.Record:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = await pool.fetchrow(
            f"SELECT status, rows_done, imported, updated, failed FROM importer.jobs WHERE id = $1 AND {condition}",
            job_id,
        )
        if job is not None:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {condition}")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
async def test_a_worker_stopped_mid_job_loses_nothing_and_doubles_nothing(
    aiohttp_client: Any, importer_env: dict[str, str], as_user: dict[str, str], database_url: str, stop: signal.Signals
) -> None:
    """SIGKILL: the transaction dies with the process. SIGTERM with a short SHUTDOWN_TIMEOUT: the worker hands
    the job back unfinished and exits 0. Either way another worker redoes it from the stored upload."""
    env = {**importer_env, "MAX_UPLOAD_BYTES": "10000000", "IMPORTER_WORKER": "false"}
    api_only: TestClient = await aiohttp_client(create_app(Config.from_env(env)))
    mapper = await create_products_mapper(api_only, as_user)
    t = tag()
    csv = "sku;name;price\n" + "".join(f"W-{t}-{n};Row {n};{n % 500},25\n" for n in range(ROWS))
    headers = {**as_user, "Prefer": "respond-async"}
    response = await api_only.post("/api/import", data=csv_form(csv, "products", mapper), headers=headers)
    assert response.status == 202
    job_id = uuid.UUID((await response.json())["id"])
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    first = _start_worker({**importer_env, "SHUTDOWN_TIMEOUT": "0.1"})
    try:
        await _wait_for(pool, job_id, "status = 'running' AND rows_done > 0", 30)
        first.send_signal(stop)
        assert first.wait(20) == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
        count_sql = "SELECT count(*) FROM catalog.products WHERE sku LIKE $1"
        assert await pool.fetchval(count_sql, f"W-{t}-%") == 0
        second = _start_worker(importer_env)
        try:
            job = await _wait_for(pool, job_id, "status IN ('completed', 'failed', 'cancelled')", 60)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0
        assert (job["status"], job["imported"], job["updated"], job["failed"]) == ("completed", ROWS, 0, 0)
        assert await pool.fetchval(count_sql, f"W-{t}-%") == ROWS
    finally:
        if first.poll() is None:
            first.kill()
        await pool.close()
