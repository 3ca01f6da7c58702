from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from services.auth.app import create_app
from services.auth.config import Config
from shared.service import DependencyUnavailable

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def test_the_service_starts_becomes_ready_and_exits_0_on_sigterm(auth_env: dict[str, str]) -> None:
    port = _free_port()
    env = {**os.environ, **auth_env, "LISTEN_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.auth"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while _status(port, "/readyz") != 200:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the auth service did not become ready"
            time.sleep(0.1)
        assert _status(port, "/healthz") == 200
        assert _status(port, "/api/users") == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_a_missing_secret_ends_the_service_with_a_clear_message(auth_env: dict[str, str]) -> None:
    env = {**os.environ, **auth_env}
    env.pop("SECRET_PEPPER")
    result = subprocess.run(
        [sys.executable, "-m", "services.auth"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "SECRET_PEPPER is not set" in result.stderr
    assert "Traceback" not in result.stderr


async def test_an_unreachable_database_ends_start_up_with_a_clear_error(auth_env: dict[str, str]) -> None:
    config = Config.from_env(
        {**auth_env, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_free_port()}/none", "STARTUP_TIMEOUT": "0.5"}
    )
    runner = web.AppRunner(create_app(config))
    try:
        with pytest.raises(DependencyUnavailable, match="cannot reach PostgreSQL"):
            await runner.setup()
    finally:
        await runner.cleanup()
