"""The platform as an attacker meets it, for the revocation tests: the real gateway as a process of its own (so a
test can stop it and start another), in front of the real auth and odata apps, on the run's database and bus.

Tokens are obtained through the real authorization pages (tests/oauth/conftest.py's harness talks to the auth app);
every use of a token goes through the gateway over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.setup import setup_oauth
from services.odata.app import create_app as create_odata
from services.odata.config import Config as OdataConfig
from tests.chaos.servers import ROOT, free_port
from tests.conftest import SERVICE_SECRET_ENV
from tests.oauth.conftest import ISSUER, OAuthHarness, basic_header

PRODUCTS = "/odata/products?$top=1"


class GatewayProcess:
    """`python -m services.gateway` on a free port; `stop` ends it with SIGTERM (SIGKILL if it hangs)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.env = {"PATH": os.environ.get("PATH", ""), **env, "LISTEN_PORT": str(self.port)}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "services.gateway"], env=self.env, cwd=ROOT, stdout=out, stderr=out
            )

    async def start(self, *, until_ready: bool = True, timeout: float = 30.0) -> None:
        self.process = self.spawn()
        path = "/readyz" if until_ready else "/healthz"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"the gateway exited at start-up:\n{self.output()}")
                try:
                    async with session.get(self.url + path) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"the gateway did not answer {path} in time:\n{self.output()}")

    def output(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])
        except OSError:
            return "(no log)"

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, 20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 10)


@dataclass
class RevocationStack:
    oauth: OAuthHarness
    gateway_env: dict[str, str]
    workdir: Path
    gateways: list[GatewayProcess]

    async def start_gateway(self, *, until_ready: bool = True, **settings: str) -> GatewayProcess:
        log = self.workdir / f"gateway-{len(self.gateways)}.log"
        gateway = GatewayProcess({**self.gateway_env, **settings}, log)
        self.gateways.append(gateway)
        await gateway.start(until_ready=until_ready)
        return gateway

    async def reader(self) -> dict[str, Any]:
        """A user who may read products, with an app they authorized, and that app's tokens (scope read)."""
        developer = await self.oauth.developer()
        app = await self.oauth.register_app(developer)
        user = await self.oauth.user(permissions={"products:read", "orders:read"})
        tokens = await self.oauth.tokens_for(app, user, scope="read")
        return {"developer": developer, "app": app, "user": user, "tokens": tokens}


async def call(gateway: GatewayProcess, token: str, path: str = PRODUCTS) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(gateway.url + path, headers={"Authorization": f"Bearer {token}"}) as response:
            await response.read()
            return response.status


async def post_form(
    base_url: str, path: str, data: dict[str, str], client: tuple[str, str] | None = None
) -> tuple[int, Any]:
    """A form POST (token, introspection, revocation endpoints) with the client's Basic credentials."""
    headers = {"Authorization": basic_header(*client)} if client is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(base_url + path, data=data, headers=headers) as response:
            body = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, body


async def readiness(gateway: GatewayProcess) -> dict[str, str]:
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(gateway.url + "/readyz") as response:
                return dict((await response.json())["checks"])
    except aiohttp.ClientError:
        return {}


@pytest.fixture
async def revocation_stack(
    base_env: dict[str, str], aiohttp_client: Callable[..., Any], tmp_path: Path
) -> AsyncIterator[RevocationStack]:
    # Token families end after a day, before the refresh and access tokens' own lifetimes would: their end shows.
    env = {**base_env, **SERVICE_SECRET_ENV, "OAUTH_ISSUER": ISSUER, "OAUTH_REFRESH_FAMILY_TTL": "86400"}
    config = AuthConfig.from_env(env)
    auth_app = create_auth(config)
    if OAUTH not in auth_app:
        setup_oauth(auth_app, config, OAuthConfig.from_env(env))
    auth = TestServer(auth_app, host="127.0.0.1")
    browser = await aiohttp_client(auth)
    odata = TestServer(create_odata(OdataConfig.from_env(env)), host="127.0.0.1")
    await odata.start_server()
    oauth = OAuthHarness(
        server=auth,
        browser=browser,
        signing_key=config.common.signing_key.bytes,
        make_browser=lambda: aiohttp_client(auth),
    )
    gateway_env = {
        **env,
        "AUTH_URL": oauth.base_url,
        "ODATA_URL": str(odata.make_url("")).rstrip("/"),
        "IMPORTER_URL": "http://127.0.0.1:9",
        "LOG_LEVEL": "INFO",
        "STARTUP_TIMEOUT": "10",
    }
    stack = RevocationStack(oauth, gateway_env, tmp_path, [])
    try:
        yield stack
    finally:
        for gateway in stack.gateways:
            await gateway.stop()
        await odata.close()
