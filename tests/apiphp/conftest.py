"""The whole platform with the api.php access point, and a browser that walks the token flow through the gateway.

The platform mirrors tests/conftest.py's: the four real services on free ports, the run's database and bus prefix,
demo data loaded by the real CLI. The auth app gets setup_apiphp when create_app does not add it yet.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher

from services.auth import db as auth_db
from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.apiphp.setup import setup_apiphp
from services.auth.keys import POOL
from tests.conftest import SERVICE_SECRET_ENV, RunningPlatform

PASSWORD = "correct horse battery staple"
CALLBACK = "https://client.example/callback"
# Light Argon2 parameters for the test users only (verification reads the cost from the stored hash).
_PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
SHOP_RIGHTS = frozenset({"products:read", "categories:read", "customers:read", "orders:read"})


def hidden_fields(page: str) -> dict[str, str]:
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    }


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def fragment_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).fragment).items()}


@dataclass
class ApiPhpPlatform:
    running: RunningPlatform
    auth_app: web.Application

    @property
    def gateway(self) -> str:
        return self.running.gateway

    async def user(self, permissions: frozenset[str] = SHOP_RIGHTS, *, admin: bool = False) -> dict[str, Any]:
        username = f"apiphp-{secrets.token_hex(5)}"
        async with self.auth_app[POOL].acquire() as conn:
            user_id = await auth_db.insert_user(conn, username, None, _PASSWORD_HASH, admin)
            await auth_db.replace_permissions(conn, user_id, permissions)
        return {"id": user_id, "username": username}

    def browser(self) -> aiohttp.ClientSession:
        # unsafe=True: the gateway is reached by IP address, whose cookies aiohttp's jar refuses by default.
        return aiohttp.ClientSession(self.gateway, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def sign_in(self, browser: aiohttp.ClientSession, user: dict[str, Any], next_url: str) -> str:
        """The sign-in form of the flow; returns where it sends the user back to."""
        login = await browser.get("/auth/login", params={"next": next_url}, allow_redirects=False)
        assert login.status == 200, await login.text()
        fields = hidden_fields(await login.text())
        signed_in = await browser.post(
            "/auth/login",
            data={**fields, "username": user["username"], "password": PASSWORD},
            allow_redirects=False,
        )
        assert signed_in.status == 303, await signed_in.text()
        return signed_in.headers["Location"]

    async def decide(
        self,
        browser: aiohttp.ClientSession,
        user: dict[str, Any],
        decision: str = "allow",
        **params: str,
    ) -> aiohttp.ClientResponse:
        """Walk GET /api.php/auth as a user: sign in on the form if asked, read the access page, press a button."""
        request = {
            "response_type": "code",
            "client_id": "com.example.shopsync",
            "client_name": "Shop Sync",
            "scope": "shop",
            "redirect_uri": CALLBACK,
            **params,
        }
        response = await browser.get("/api.php/auth", params=request, allow_redirects=False)
        if response.status == 303:
            next_url = query_of(response.headers["Location"])["next"]
            back = await self.sign_in(browser, user, next_url)
            assert back == next_url
            response = await browser.get(back, allow_redirects=False)
        assert response.status == 200, await response.text()
        fields = hidden_fields(await response.text())
        return await browser.post("/api.php/auth", data={**fields, "decision": decision}, allow_redirects=False)

    async def code(self, user: dict[str, Any], **params: str) -> str:
        async with self.browser() as browser:
            answer = await self.decide(browser, user, **params)
        assert answer.status == 302, await answer.text()
        return query_of(answer.headers["Location"])["code"]

    async def exchange(
        self, code: str, client_id: str = "com.example.shopsync", redirect_uri: str = CALLBACK, fmt: str = "json"
    ) -> aiohttp.ClientResponse:
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                f"{self.gateway}/api.php/token",
                params={"redirect_uri": redirect_uri, "format": fmt},
                data={"code": code, "client_id": client_id, "grant_type": "authorization_code"},
            )
            await response.read()
            return response

    async def token(self, user: dict[str, Any] | None = None) -> str:
        user = user or await self.user()
        response = await self.exchange(await self.code(user))
        assert response.status == 200, await response.text()
        return (await response.json())["access_token"]

    async def issue_token_directly(self, user: dict[str, Any], apps: list[str]) -> str:
        """A token for other apps, as a Webasyst with several apps would issue (only shop exists here)."""
        async with self.auth_app[POOL].acquire() as conn:
            token, _ = await self.auth_app[APIPHP_TOKENS].issue_token(conn, user["id"], "other.client", "Other", apps)
        return token

    async def call(self, path: str, method: str = "GET", **kwargs: Any) -> aiohttp.ClientResponse:
        async with aiohttp.ClientSession() as http:
            response = await http.request(method, f"{self.gateway}{path}", **kwargs)
            await response.read()
            return response


@pytest.fixture
async def apiphp_platform(base_env: dict[str, str], demo_data: None) -> AsyncIterator[ApiPhpPlatform]:
    from services.auth.app import create_app as create_auth
    from services.auth.config import Config as AuthConfig
    from services.gateway.app import create_app as create_gateway
    from services.gateway.config import Config as GatewayConfig
    from services.importer.app import create_app as create_importer
    from services.importer.config import Config as ImporterConfig
    from services.odata.app import create_app as create_odata
    from services.odata.config import Config as OdataConfig

    env = {**base_env, **SERVICE_SECRET_ENV}
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        # access_log=None as shared/service.py runs every service: only shared.logs' access log (paths without
        # query strings) is written, which the token-leak test checks.
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(access_log=None)
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    try:
        auth_app = create_auth(AuthConfig.from_env(env))
        if APIPHP_TOKENS not in auth_app:
            setup_apiphp(auth_app)
        auth = await start(auth_app)
        odata = await start(create_odata(OdataConfig.from_env(env)))
        importer = await start(create_importer(ImporterConfig.from_env(env)))
        gateway_env = {**env, "AUTH_URL": auth, "ODATA_URL": odata, "IMPORTER_URL": importer}
        gateway = await start(create_gateway(GatewayConfig.from_env(gateway_env)))
        yield ApiPhpPlatform(RunningPlatform(gateway, auth, odata, importer), auth_app)
    finally:
        for server in reversed(servers):
            await server.close()
