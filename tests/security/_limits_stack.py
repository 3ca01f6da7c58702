"""The whole platform in this process, with settings per service, for the abuse tests of limits and lockouts.

Callers reach it only through the gateway, as an attacker would. The gateway trusts the loopback proxy, so a test
speaks for any client address with X-Forwarded-For (and X-Forwarded-Proto: https), as a TLS front door would.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import unescape
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.gateway.app import create_app as create_gateway
from services.gateway.config import Config as GatewayConfig
from services.importer.app import create_app as create_importer
from services.importer.config import Config as ImporterConfig
from services.odata.app import create_app as create_odata
from services.odata.config import Config as OdataConfig

PASSWORD = "a long and honest passphrase"


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}


def basic(username: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


def hidden_fields(page: str) -> dict[str, str]:
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    }


@dataclass
class Stack:
    gateway: str
    apps: dict[str, web.Application]
    http: aiohttp.ClientSession
    admin_key: str

    def admin(self, address: str = "192.0.2.1") -> dict[str, str]:
        return {"X-API-Key": self.admin_key, **from_address(address)}

    async def create_user(self, *, permissions: list[str] | None = None, is_admin: bool = False) -> dict[str, Any]:
        body = {
            "username": f"user-{secrets.token_hex(5)}",
            "password": PASSWORD,
            "is_admin": is_admin,
            "permissions": permissions or [],
        }
        async with self.http.post(f"{self.gateway}/api/users", json=body, headers=self.admin()) as response:
            assert response.status == 201, await response.text()
            return await response.json()

    async def api_token(self, user: dict[str, Any]) -> str:
        url = f"{self.gateway}/api/users/{user['id']}/api-access"
        async with self.http.post(url, json={"enabled": True}, headers=self.admin()) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["token"])

    async def api_key(self, user: dict[str, Any]) -> str:
        body = {"name": "limits test", "user_id": user["id"]}
        async with self.http.post(f"{self.gateway}/api/keys", json=body, headers=self.admin()) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["key"])

    async def log_in(self, username: str, password: str, address: str) -> aiohttp.ClientResponse:
        """The sign-in page as a browser at `address` uses it: read the form, post it back with its cookie (sent by
        hand: the cookie is Secure, as the page was reached over https at the front door)."""
        async with self.http.get(f"{self.gateway}/auth/login", headers=from_address(address)) as page:
            fields = hidden_fields(await page.text())
            cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in page.cookies.items())
        async with self.http.post(
            f"{self.gateway}/auth/login",
            data={**fields, "username": username, "password": password},
            headers={**from_address(address), "Cookie": cookie},
            allow_redirects=False,
        ) as response:
            await response.read()
            return response


@asynccontextmanager
async def limits_stack(base_env: dict[str, str], admin_key: str, **settings: dict[str, str]) -> AsyncIterator[Stack]:
    """settings: per service ("auth", "odata", "importer", "gateway"), the environment it gets beyond base_env."""
    servers: list[TestServer] = []
    apps: dict[str, web.Application] = {}

    async def start(name: str, app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        apps[name] = app
        return str(server.make_url("")).rstrip("/")

    def env(name: str) -> dict[str, str]:
        return {**base_env, **settings.get(name, {})}

    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    try:
        auth = await start("auth", create_auth(AuthConfig.from_env(env("auth"))))
        odata = await start("odata", create_odata(OdataConfig.from_env(env("odata"))))
        importer = await start("importer", create_importer(ImporterConfig.from_env(env("importer"))))
        gateway_env = {
            **env("gateway"),
            "AUTH_URL": auth,
            "ODATA_URL": odata,
            "IMPORTER_URL": importer,
            "TRUSTED_PROXIES": "127.0.0.1/32",
        }
        gateway = await start("gateway", create_gateway(GatewayConfig.from_env(gateway_env)))
        yield Stack(gateway, apps, http, admin_key)
    finally:
        await http.close()
        for server in reversed(servers):
            await server.close()
