"""Each service as its operator runs it: `python -m services.<name>`, configured only by the environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("auth", "gateway", "odata", "importer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(base_env: dict[str, str], **overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        **base_env,
        "STARTUP_TIMEOUT": "2",
        "LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value != "<unset>"}


def run(name: str, env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{name}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_a_missing_signing_key_stops_start_up_with_a_clear_message(base_env: dict[str, str], name: str) -> None:
    result = run(name, service_env(base_env, INTERNAL_SIGNING_KEY="<unset>"))
    assert result.returncode == 2
    assert "INTERNAL_SIGNING_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


BUS_SERVICES = ("auth", "gateway", "importer")


@pytest.mark.parametrize("name", BUS_SERVICES)
def test_a_malformed_broker_url_stops_start_up_with_a_clear_message(base_env: dict[str, str], name: str) -> None:
    result = run(name, service_env(base_env, AMQP_URL="rabbit://nowhere"))
    assert result.returncode == 2
    assert "AMQP_URL is malformed" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ("auth", "odata", "importer"))
def test_a_missing_database_url_stops_start_up_with_a_clear_message(base_env: dict[str, str], name: str) -> None:
    result = run(name, service_env(base_env, DATABASE_URL="<unset>"))
    assert result.returncode == 2
    assert "DATABASE_URL is not set" in result.stderr


@pytest.mark.parametrize("name", ("auth", "odata", "importer"))
def test_an_unreachable_database_ends_start_up_with_a_clear_message(base_env: dict[str, str], name: str) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    result = run(name, service_env(base_env, DATABASE_URL=closed, LISTEN_PORT=str(free_port())))
    assert result.returncode == 1
    assert "cannot reach PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", BUS_SERVICES)
def test_an_unreachable_broker_ends_start_up_with_a_clear_message(base_env: dict[str, str], name: str) -> None:
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    result = run(name, service_env(base_env, AMQP_URL=closed, LISTEN_PORT=str(free_port())))
    assert result.returncode == 1
    assert "cannot reach RabbitMQ" in result.stderr
    assert "Traceback" not in result.stderr


def wait_until_ready(port: int, process: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("service did not become ready")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_sigterm_stops_a_running_service_cleanly_with_exit_0(base_env: dict[str, str], name: str) -> None:
    port = free_port()
    env = service_env(base_env, LISTEN_PORT=str(port))
    if name == "gateway":
        env["AUTH_URL"] = "http://127.0.0.1:9"  # readiness of the gateway is checked through /healthz below
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        if name == "gateway":
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline and process.poll() is None
                    time.sleep(0.2)
        else:
            wait_until_ready(port, process)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Traceback" not in output
