"""An auth outage degrades, it does not hang: the auth service's process is frozen (SIGSTOP) under a real gateway.

A circuit breaker answers credentials never seen with 503 and Retry-After at once; a principal verified before the
outage keeps working within the grace period, until a revocation (sent by another auth replica) evicts it; on
SIGCONT everything recovers on its own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from services.auth import accounts, api_keys
from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.auth.context import operator_principal
from services.auth.keys import CONTEXT
from services.gateway.app import create_app as create_gateway
from services.gateway.config import Config as GatewayConfig
from services.odata.app import create_app as create_odata
from services.odata.config import Config as OdataConfig
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = "/odata/products?$top=1"
VERIFY_TIMEOUT = 3.0

pytestmark = pytest.mark.slow


async def _wait_until_up(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            if process.returncode is not None:
                raise RuntimeError("the auth service exited during start-up")
            try:
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the auth service did not start")


@pytest.fixture
async def frozen_auth(base_env: dict[str, str]) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """The auth service the gateway asks, as its own process, so that the test can freeze it."""
    port = free_port()
    env = {**base_env, "PATH": os.environ.get("PATH", ""), "LISTEN_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.auth",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_up(url, process)
        yield url, process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.fixture
async def servers() -> AsyncIterator[Callable[[Any], Any]]:
    started: list[TestServer] = []

    async def serve(app: Any) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        started.append(server)
        return str(server.make_url("")).rstrip("/")

    yield serve
    for server in reversed(started):
        await server.close()


async def _status(http: aiohttp.ClientSession, url: str, key: str) -> tuple[int, dict[str, str], float]:
    started = time.monotonic()
    async with http.get(url, headers={"X-API-Key": key}) as response:
        await response.read()
        return response.status, dict(response.headers), time.monotonic() - started


async def _until(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


async def test_a_frozen_auth_service_gives_fast_503s_keeps_known_principals_and_recovers_on_sigcont(
    base_env: dict[str, str], frozen_auth: tuple[str, asyncio.subprocess.Process], servers: Callable[[Any], Any]
) -> None:
    auth_url, auth_process = frozen_auth
    # A second auth replica stays up: it is where the administrator revokes a key during the outage.
    other_auth = create_auth(AuthConfig.from_env(base_env))
    await servers(other_auth)
    ctx = other_auth[CONTEXT]
    owner = await accounts.create_user(
        ctx,
        operator_principal(),
        username=f"outage-{secrets.token_hex(4)}",
        email=None,
        password=None,
        is_admin=True,
        permissions=frozenset(),
    )

    async def new_key() -> dict[str, Any]:
        return await api_keys.create_key(
            ctx, operator_principal(), name="outage", expires_at=None, scope=None, owner_id=owner["id"]
        )

    known, unseen = await new_key(), await new_key()
    odata_url = await servers(create_odata(OdataConfig.from_env(base_env)))
    gateway_env = {
        **base_env,
        "AUTH_URL": auth_url,
        "ODATA_URL": odata_url,
        "VERIFY_TIMEOUT": str(VERIFY_TIMEOUT),
        "VERIFY_CACHE_MAX_AGE": "1",
        "VERIFY_OUTAGE_GRACE": "120",
        "VERIFY_BREAKER_THRESHOLD": "2",
        "VERIFY_BREAKER_PROBE_INTERVAL": "0.5",
    }
    gateway = await servers(create_gateway(GatewayConfig.from_env(gateway_env)))
    url = f"{gateway}{PRODUCTS}"
    async with aiohttp.ClientSession() as http:
        assert (await _status(http, url, known["key"]))[0] == 200

        auth_process.send_signal(signal.SIGSTOP)
        await asyncio.sleep(1.2)  # the known principal's cache entry is past its freshness now
        first_failures = await asyncio.gather(
            *(_status(http, url, f"cap_{secrets.token_urlsafe(30)}") for _ in range(2))
        )
        assert [status for status, _, _ in first_failures] == [503, 503]

        status, headers, elapsed = await _status(http, url, unseen["key"])
        assert status == 503 and int(headers["Retry-After"]) >= 1
        assert elapsed < VERIFY_TIMEOUT / 2  # answered by the open breaker, not after the timeout
        assert (await _status(http, url, known["key"]))[0] == 200  # verified before the outage: grace

        await api_keys.revoke_key(ctx, operator_principal(), uuid.UUID(known["id"]))

        async def known_key_refused() -> bool:
            return (await _status(http, url, known["key"]))[0] == 503

        assert await _until(known_key_refused, 5), "the revocation did not end the grace of the revoked key"

        auth_process.send_signal(signal.SIGCONT)

        async def unseen_key_accepted() -> bool:
            return (await _status(http, url, unseen["key"]))[0] == 200

        assert await _until(unseen_key_accepted, 15), "the gateway did not recover after SIGCONT"
        assert (await _status(http, url, known["key"]))[0] == 401
