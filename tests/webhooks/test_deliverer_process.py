"""A deliverer process killed with SIGKILL while deliveries are in hand and queued: none is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.principal import Principal
from tests.webhooks.conftest import AuthService, key_created, publish_event, subscribe, wait_for_log

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 12


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_deliverer(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.webhooks"],
        env={"PATH": os.environ.get("PATH", ""), **env, "LISTEN_PORT": str(_free_port()), "WEBHOOKS_CONCURRENCY": "2"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
async def test_a_killed_deliverer_loses_no_delivery(
    start_webhooks: Callable[..., Any],
    webhooks_env: dict[str, str],
    auth_service: AuthService,
    sign: Callable[[Principal], dict[str, str]],
    start_receiver: Callable[..., Any],
    amqp_url: str,
    bus_prefix: str,
) -> None:
    api = await start_webhooks(WEBHOOKS_DELIVERER="false")
    receiver = await start_receiver(delay=0.3)
    user = await auth_service.user("api_keys:read")
    created = await subscribe(api, sign(user), receiver.url, ["api_key.created"])
    first = _start_deliverer(webhooks_env)
    second: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(EVENTS):
            await publish_event(amqp_url, bus_prefix, key_created(user))
        await receiver.wait_for(2, timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert len({arrival.webhook_id for arrival in receiver.arrivals}) < EVENTS
        second = _start_deliverer(webhooks_env)
        log = await wait_for_log(
            api,
            sign(user),
            created["id"],
            lambda log: len(log) == EVENTS and all(item["status"] == "succeeded" for item in log),
            timeout=60,
        )
        received = {arrival.webhook_id for arrival in receiver.arrivals}
        assert received == {item["id"] for item in log}
        for arrival in receiver.arrivals:
            arrival.verified(created["secret"])
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        await asyncio.sleep(0)
