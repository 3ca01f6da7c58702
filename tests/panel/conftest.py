"""Fixtures for the control panel: the auth app with the OAuth server and the panel, served on a free port, and a
real Chromium driven by Playwright: one server and one browser for the package's tests, a fresh browser context (so
fresh cookies) per test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from services.auth import accounts, db
from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.app import create_app
from services.auth.config import Config
from services.auth.context import AuthContext, operator_principal
from services.auth.keys import CONTEXT
from services.auth.oauth.keys import OAUTH
from services.auth.passwords import hash_password
from services.auth.web.session_cookie import SESSION_COOKIE
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from shared.verification import VerifyRequest
from tests.conftest import SERVICE_SECRET_ENV, RevocationTap, open_revocation_tap

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: Argon2 is slow on purpose


@dataclass
class Panel:
    """The running auth service with its panel, and what a test needs to check the pages' effects."""

    url: str
    server: TestServer
    signing_key: bytes

    @property
    def ctx(self) -> AuthContext:
        return self.server.app[CONTEXT]

    async def user(self, *, admin: bool = False, permissions: set[str] | frozenset[str] = frozenset()) -> dict:
        user = await accounts.create_user(
            self.ctx,
            operator_principal(),
            username=f"panel-{secrets.token_hex(5)}",
            email=None,
            password=None,
            is_admin=admin,
            permissions=frozenset(permissions),
        )
        async with self.ctx.pool.acquire() as conn:
            await db.set_password_hash(conn, user["id"], _PASSWORD_HASH)
        return user

    async def verify(self, kind: str, secret: str, username: str | None = None) -> tuple[int, dict[str, Any]]:
        """POST /internal/verify as the gateway does; a fresh client address each time, so no throttling."""
        headers = {PRINCIPAL_HEADER: sign_principal(Principal.service("gateway"), self.signing_key, "auth")}
        client_ip = f"198.51.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
        body = VerifyRequest(kind, secret, username, client_ip).to_dict()
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.url}/internal/verify", json=body, headers=headers) as response:
                return response.status, await response.json()

    async def verify_key(self, key: str) -> int:
        return (await self.verify("api_key", key))[0]

    async def verify_basic(self, username: str, token: str) -> int:
        return (await self.verify("basic", token, username))[0]

    async def verify_bearer(self, token: str) -> int:
        return (await self.verify("bearer", token))[0]

    async def apiphp_token(self, user: dict, client_id: str, client_name: str, apps: list[str]) -> tuple[str, str]:
        """An api.php token as /api.php/token issues it (the flow itself is tests/apiphp's): (token, token id)."""
        async with self.ctx.pool.acquire() as conn:
            token, token_id = await self.server.app[APIPHP_TOKENS].issue_token(
                conn, user["id"], client_id, client_name, apps
            )
        return token, str(token_id)


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def panel(database_url: str, amqp_url: str, bus_prefix: str, signing_key: str) -> AsyncIterator[Panel]:
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": bus_prefix,
        "INTERNAL_SIGNING_KEY": signing_key,
        "LOG_LEVEL": "WARNING",
        # The run's one database keeps the OAuth signing key encrypted under ENCRYPTION_KEY: every suite that
        # starts the OAuth server uses the same secrets.
        **SERVICE_SECRET_ENV,
    }
    config = Config.from_env(env)
    app = create_app(config)  # includes the OAuth server (login page, sessions), which the panel signs in with
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Panel(str(server.make_url("")).rstrip("/"), server, config.common.signing_key.bytes)
    finally:
        await server.close()


@pytest_asyncio.fixture(loop_scope="package")
async def revocations(amqp_url: str, bus_prefix: str) -> AsyncIterator[RevocationTap]:
    """The suite's revocation tap, on the package's event loop that the browser tests share."""
    async with open_revocation_tap(amqp_url, bus_prefix) as tap:
        yield tap


@pytest.fixture(scope="package")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests need Debian's Chromium at {CHROMIUM} (no browser is ever downloaded)")
    return CHROMIUM


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def browser(chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    try:
        chromium = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
    finally:
        await playwright.stop()


@pytest_asyncio.fixture(loop_scope="package")
async def page(browser: Any, panel: Panel) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=panel.url)
    context.set_default_timeout(10_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def sign_in(page: Any, username: str, path: str = "/panel/") -> None:
    """Open a panel page as a visitor would: without a session it sends the browser to the login page, where we sign
    in, then come back to the page."""
    await page.goto(path)
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_load_state()
    if not page.url.endswith(path):
        # The login page does not bring a panel visitor back yet (it returns only to the authorize endpoint).
        await page.goto(path)


async def signed_in(page: Any, panel: Panel, user: dict[str, Any], path: str = "/panel/") -> None:
    """A session as the login page makes it, without typing the password again (the tests of the login itself use
    sign_in); then open the page."""
    async with panel.ctx.pool.acquire() as conn:
        session = await panel.server.app[OAUTH].sessions.start(conn, user["id"], user["username"])
    await page.context.add_cookies([{"name": SESSION_COOKIE, "value": session.id, "url": panel.url}])
    await page.goto(path)
