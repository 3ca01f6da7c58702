"""Fixtures for the control panel: the auth service with its pages, and beside it the real gateway, odata and importer
services (the dashboard reads their health and the user's imports; API calls that prove a page's effect go through
the gateway), each on a free port; and a real Chromium driven by Playwright: one platform and one browser for the
package's tests, a fresh browser context (so fresh cookies) per test. Screenshots go to var/screenshots/."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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
from services.gateway.app import create_app as create_gateway
from services.gateway.config import Config as GatewayConfig
from services.importer.app import create_app as create_importer
from services.importer.config import Config as ImporterConfig
from services.odata.app import create_app as create_odata
from services.odata.config import Config as OdataConfig
from shared.metrics import METRICS, create_metrics_app
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
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
AXE_FOLDER = Path(__file__).resolve().parent
AXE_SCRIPT = AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
_PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: Argon2 is slow on purpose


@dataclass
class Panel:
    """The running auth service with its panel, and what a test needs to check the pages' effects."""

    url: str
    server: TestServer
    signing_key: bytes
    # The services behind the dashboard; a suite that starts its own auth service may leave them unset.
    gateway: str = ""
    importer: str = ""
    env: dict[str, str] = field(default_factory=dict)

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

    def principal_of(self, user: dict) -> Principal:
        """The user as the gateway vouches for them with one of their own credentials."""
        rights = frozenset(user["permissions"])
        return Principal(
            user_id=user["id"],
            username=user["username"],
            is_admin=user["is_admin"],
            permissions=rights,
            credential_kind="api_key",
            credential_id=f"test-{secrets.token_hex(4)}",
        )

    def signed(self, user: dict, audience: str = "importer") -> dict[str, str]:
        return {PRINCIPAL_HEADER: sign_principal(self.principal_of(user), self.signing_key, audience)}

    async def api_key(self, user: dict, scope: frozenset[str] | None = None) -> str:
        """An API key of the user's, for calls through the gateway."""
        from services.auth import api_keys

        created = await api_keys.create_key(
            self.ctx, operator_principal(), name="test", expires_at=None, scope=scope, owner_id=user["id"]
        )
        return created["key"]

    async def client_credentials_status(self, client_id: str, secret: str, base_url: str | None = None) -> int:
        """The status of the token endpoint's client credentials grant for this client and secret."""
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base_url or self.url}/auth/oauth/token", data=form) as response:
                await response.read()
                return response.status

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    servers: list[TestServer] = []

    async def start(app: Any, port: int | None = None) -> tuple[TestServer, str]:
        server = TestServer(app, host="127.0.0.1", port=port)
        await server.start_server()
        servers.append(server)
        return server, str(server.make_url("")).rstrip("/")

    try:
        _, odata = await start(create_odata(OdataConfig.from_env(env)))
        # No worker: the import pages' tests run jobs by hand, and a worker here would take theirs (one database).
        importer_env = {**env, "IMPORTER_WORKER": "false", "IMPORT_WAIT_SECONDS": "1"}
        _, importer = await start(create_importer(ImporterConfig.from_env(importer_env)))
        # The gateway needs the auth service's URL and the auth service the gateway's: the gateway's port is
        # chosen first.
        gateway_port = free_port()
        gateway = f"http://127.0.0.1:{gateway_port}"
        metrics_port = free_port()
        auth_env = {
            **env,
            "GATEWAY_URL": gateway,
            "GATEWAY_METRICS_URL": f"http://127.0.0.1:{metrics_port}",
            "ODATA_URL": odata,
            "IMPORTER_URL": importer,
        }
        config = Config.from_env(auth_env)
        auth_server, auth = await start(create_app(config))
        gateway_env = {**env, "AUTH_URL": auth, "ODATA_URL": odata, "IMPORTER_URL": importer}
        gateway_app = create_gateway(GatewayConfig.from_env(gateway_env))
        await start(gateway_app, gateway_port)
        # The gateway serves /metrics on a listener of its own, as shared/service.py runs it.
        await start(create_metrics_app(gateway_app[METRICS]), metrics_port)
        yield Panel(auth, auth_server, config.common.signing_key.bytes, gateway, importer, auth_env)
    finally:
        for server in reversed(servers):
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


@pytest.fixture(scope="package")
def axe_script() -> str:
    """axe-core from npm (tests/panel/package.json), installed on first use."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("the accessibility checks need axe-core from npm, and npm is not installed")
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=AXE_FOLDER,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if installed.returncode != 0 or not AXE_SCRIPT.exists():
            pytest.skip(f"npm could not install axe-core (the registry may be unreachable): {installed.stderr[-300:]}")
    return AXE_SCRIPT.read_text(encoding="utf-8")


async def axe_violations(page: Any, axe_script: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now. The page's CSP allows only its own
    scripts, so the test injects axe through Playwright's evaluate, which CSP does not govern."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_script)
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": item["id"], "impact": item["impact"], "nodes": [node["target"] for node in item["nodes"]][:5]}
        for item in results["violations"]
        if item["impact"] in ("serious", "critical")
    ]


async def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


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
