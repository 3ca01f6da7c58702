"""The README's first command: start everything, run the printed curl examples, stop with Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest

from services.auth.passwords import verify_password
from shared.bus import Topology, delete_topology

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def launcher_env(database_url: str, amqp_url: str, bus_prefix: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") + "_launcher"
    prefix = f"{bus_prefix}-launcher"
    yield {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}")),
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": prefix,
        "STATE_DIR": str(tmp_path / "state"),
        "DEMO_PRODUCTS": "30",
        "METRICS_PORT": "0",
        **{f"{service}_PORT": str(free_port()) for service in ("GATEWAY", "AUTH", "ODATA", "IMPORTER")},
    }

    async def cleanup() -> None:
        conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            await delete_topology(await connection.channel(), Topology(prefix))

    asyncio.run(cleanup())


def read_until(process: subprocess.Popen[str], marker: str, seconds: float) -> str:
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("launcher ended early:\n" + "".join(output))
        output.append(line)
        if marker in line:
            return "".join(output)
    raise AssertionError("launcher did not get ready:\n" + "".join(output))


def printed_curl_commands(output: str) -> list[str]:
    """The curl examples as printed (log prefixes removed, continuation lines joined)."""
    lines = [re.sub(r"^\[\s*launcher\]\s?", "", line) for line in output.splitlines()]
    text = "\n".join(lines).replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip().startswith("curl ")]


def test_the_launcher_starts_everything_and_its_printed_examples_work(launcher_env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "deploy/launcher.py"],
        cwd=ROOT,
        env=launcher_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = read_until(process, "all services ready", 120)
        assert f"http://127.0.0.1:{launcher_env['GATEWAY_PORT']}" in output
        commands = printed_curl_commands(output)
        assert len(commands) == 3
        answers = []
        for command in commands:
            result = subprocess.run(
                ["bash", "-c", command + " -w '\\n%{http_code}'"], cwd=ROOT, capture_output=True, text=True, timeout=60
            )
            body, _, status = result.stdout.rpartition("\n")
            assert status == "200", f"{command} answered {status}: {body}"
            answers.append(json.loads(body))
        assert len(answers[0]["value"]) == 2
        assert answers[1]["products"]
        assert answers[2]["imported"] + answers[2]["updated"] > 0
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, rest
    assert "all services stopped cleanly" in rest


def start_launcher(env: dict[str, str], *args: str, own_group: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "deploy/launcher.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=own_group,
    )


def test_ctrl_c_in_a_terminal_stops_every_service_cleanly_and_the_launcher_exits_0(
    launcher_env: dict[str, str],
) -> None:
    # A session of its own: the launcher and the services it starts form one process group, as in a terminal.
    process = start_launcher({**launcher_env, "SHUTDOWN_TIMEOUT": "5"}, own_group=True)
    try:
        read_until(process, "all services ready", 120)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group gets SIGINT
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, rest
    assert "all services stopped cleanly" in rest
    assert "killing it" not in rest


def run_until_ready_then_stop(env: dict[str, str], *args: str) -> None:
    process = start_launcher(env, *args)
    try:
        read_until(process, "all services ready", 120)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, rest


async def admin_password_hash(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SELECT password_hash FROM auth.users WHERE username = 'admin'")
    finally:
        await conn.close()


def test_a_checkout_finding_the_database_of_another_is_told_in_one_line_to_reset_and_reset_gives_it_its_own(
    launcher_env: dict[str, str], tmp_path: Path
) -> None:
    run_until_ready_then_stop({**launcher_env, "STATE_DIR": str(tmp_path / "first-clone")})
    second = {**launcher_env, "STATE_DIR": str(tmp_path / "second-clone")}

    refused = subprocess.run(
        [sys.executable, "deploy/launcher.py"], cwd=ROOT, env=second, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    [error] = [line for line in refused.stdout.splitlines() if "ERROR" in line]
    assert "other secrets" in error and "--reset" in error and "DATABASE_URL=" in error
    assert "Traceback" not in refused.stdout + refused.stderr

    run_until_ready_then_stop(second, "--reset")
    state = dict(line.split("=", 1) for line in (tmp_path / "second-clone" / "dev-secrets.env").read_text().split())
    assert verify_password(asyncio.run(admin_password_hash(second["DATABASE_URL"])), state["ADMIN_PASSWORD"])
