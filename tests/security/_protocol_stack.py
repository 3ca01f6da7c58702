"""The protocol tests' platform: the real auth service and the real gateway in front of it (and the odata service
where a test calls api.php methods), on free ports, the run's database and bus. Every attack goes through the
gateway, as an outsider's would; setting up users and apps talks to the auth service directly, as an operator would.

"Outside" is simulated honestly: with TRUSTED_PROXIES=127.0.0.1 the test client is a TLS-terminating proxy, so the
gateway believes its X-Forwarded-Proto and X-Forwarded-For and no longer treats it as a loopback client.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher

from services.auth import db as auth_db
from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.auth.keys import POOL
from services.auth.permissions import ALL_PERMISSIONS
from services.gateway.app import create_app as create_gateway
from services.gateway.config import Config as GatewayConfig
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a different horse, battery staple"
ISSUER = "https://platform.example"
CALLBACK = "https://app.example/callback"
OUTSIDE = "203.0.113.7"  # a documentation address: a client beyond the trusted proxy
# Light Argon2id for test users only: verification reads the cost from the hash, the code under test is unchanged.
_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
_PASSWORD_HASHES = {PASSWORD: _HASHER.hash(PASSWORD)}
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    return {unescape(name): unescape(value) for name, value in _HIDDEN.findall(page)}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def basic_header(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def from_outside(proto: str) -> dict[str, str]:
    """Headers of a request relayed by the trusted proxy for a client beyond it, over `proto` (http or https)."""
    return {"X-Forwarded-Proto": proto, "X-Forwarded-For": OUTSIDE}


@dataclass
class Browser:
    """A user's browser talking to the gateway: its own cookie jar, redirects followed by hand."""

    stack: ProtocolStack
    session: aiohttp.ClientSession

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        response = await self.session.get(self.stack.gateway + path, allow_redirects=False, **kwargs)
        await response.read()
        return response

    async def post(self, path: str, data: Any, **kwargs: Any) -> aiohttp.ClientResponse:
        response = await self.session.post(self.stack.gateway + path, data=data, allow_redirects=False, **kwargs)
        await response.read()
        return response

    async def sign_in(self, user: dict[str, Any], password: str = PASSWORD) -> aiohttp.ClientResponse:
        page = await self.get("/auth/login")
        fields = hidden_fields(await page.text())
        return await self.post("/auth/login", {**fields, "username": user["username"], "password": password})

    async def authorize(self, params: dict[str, str]) -> aiohttp.ClientResponse:
        return await self.get(f"/auth/oauth/authorize?{urlencode(params)}")

    async def allow(self, consent_page: aiohttp.ClientResponse, decision: str = "allow") -> str:
        """Press a button of the consent page; the Location the user is sent back to."""
        fields = hidden_fields(await consent_page.text())
        answer = await self.post("/auth/oauth/authorize", {**fields, "decision": decision})
        assert answer.status == 302, await answer.text()
        return answer.headers["Location"]

    async def signed_in_to_panel(self) -> bool:
        response = await self.get("/panel/")
        return response.status == 200


@dataclass
class ProtocolStack:
    gateway: str
    auth: str
    auth_app: web.Application
    signing_key: bytes
    http: aiohttp.ClientSession
    # Behind a trusted proxy, the helpers' own requests come from outside over HTTPS, as a real user's would.
    default_headers: dict[str, str] = field(default_factory=dict)
    browsers: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def pool(self) -> Any:
        return self.auth_app[POOL]

    async def user(self, *, admin: bool = False, permissions: frozenset[str] = frozenset()) -> dict[str, Any]:
        username = f"sec-{secrets.token_hex(5)}"
        async with self.pool.acquire() as conn:
            user_id = await auth_db.insert_user(conn, username, None, _PASSWORD_HASHES[PASSWORD], admin)
            await auth_db.replace_permissions(conn, user_id, permissions)
        return {"id": user_id, "username": username, "is_admin": admin, "permissions": permissions}

    def as_user(self, user: dict[str, Any]) -> dict[str, str]:
        """The signed principal the gateway would send for this user (set-up calls to the auth service only)."""
        principal = Principal(
            user_id=user["id"],
            username=user["username"],
            is_admin=user["is_admin"],
            permissions=ALL_PERMISSIONS if user["is_admin"] else user["permissions"],
            credential_kind="api_key",
            credential_id="setup",
        )
        return {PRINCIPAL_HEADER: sign_principal(principal, self.signing_key, "auth")}

    async def register_app(self, **settings: Any) -> dict[str, Any]:
        developer = await self.user(permissions=frozenset({"apps:read", "apps:create", "apps:update", "apps:delete"}))
        body = {
            "name": f"App {secrets.token_hex(3)}",
            "redirect_uris": [CALLBACK],
            "scopes": ["read", "write", "products:read"],
            **settings,
        }
        async with self.http.post(f"{self.auth}/api/apps", json=body, headers=self.as_user(developer)) as response:
            assert response.status == 201, await response.text()
            return await response.json()

    async def api_key(self, user: dict[str, Any]) -> str:
        body = {"name": "security test key"}
        async with self.http.post(f"{self.auth}/api/keys", json=body, headers=self.as_user(user)) as response:
            assert response.status == 201, await response.text()
            return (await response.json())["key"]

    async def browser(self) -> Browser:
        session = aiohttp.ClientSession(
            # The secure cookie the auth service sets behind the proxy is sent, as a browser on HTTPS would.
            cookie_jar=aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[self.gateway]),
            connector=aiohttp.TCPConnector(ssl=False),
            headers=self.default_headers,
        )
        self.browsers.append(session)
        return Browser(self, session)

    async def signed_in_browser(self, user: dict[str, Any]) -> Browser:
        browser = await self.browser()
        response = await browser.sign_in(user)
        assert response.status == 200, await response.text()
        return browser

    async def code(
        self, browser: Browser, app: dict[str, Any], scope: str = "read", **extra: str
    ) -> tuple[str, str, dict[str, str]]:
        """Through the real pages: (code, PKCE verifier, the whole redirect query)."""
        verifier, challenge = pkce_pair()
        params = {
            "client_id": app["client_id"],
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        response = await browser.authorize(params)
        location = response.headers["Location"] if response.status == 302 else await browser.allow(response)
        query = query_of(location)
        assert query.get("state") == params["state"], location
        return query["code"], verifier, query

    async def token(self, app: dict[str, Any], data: dict[str, str]) -> tuple[int, dict[str, Any]]:
        auth = basic_header(app["client_id"], app["client_secret"]) if app.get("client_secret") else {}
        async with self.http.post(f"{self.gateway}/auth/oauth/token", data=data, headers=auth) as response:
            return response.status, await response.json()

    async def tokens_for(self, app: dict[str, Any], user: dict[str, Any], scope: str = "read") -> dict[str, Any]:
        browser = await self.signed_in_browser(user)
        code, verifier, _ = await self.code(browser, app, scope)
        status, body = await self.token(
            app,
            {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier},
        )
        assert status == 200, body
        return body


StartStack = Callable[..., Awaitable[ProtocolStack]]


@asynccontextmanager
async def protocol_stacks(base_env: dict[str, str]) -> AsyncIterator[StartStack]:
    """For a fixture: start(gateway_env=..., auth_env=..., odata=False) starts a stack, all closed on exit."""
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []
    stacks: list[ProtocolStack] = []

    async def serve(app: web.Application, tls: ssl.SSLContext | None = None) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(ssl=tls)
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    async def start(
        *, gateway_env: dict[str, str] | None = None, auth_env: dict[str, str] | None = None, odata: bool = False
    ) -> ProtocolStack:
        env = {**base_env, "OAUTH_ISSUER": ISSUER}
        auth_config = AuthConfig.from_env({**env, **(auth_env or {})})
        auth_app = create_auth(auth_config)
        auth = await serve(auth_app)
        upstreams = {"AUTH_URL": auth}
        if odata:
            from services.odata.app import create_app as create_odata
            from services.odata.config import Config as OdataConfig

            upstreams["ODATA_URL"] = await serve(create_odata(OdataConfig.from_env(env)))
        gateway_config = GatewayConfig.from_env({**env, **upstreams, **(gateway_env or {})})
        gateway = await serve(create_gateway(gateway_config), gateway_config.tls_context())
        defaults = from_outside("https") if gateway_config.trusted_proxies else {}
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False), headers=defaults)
        sessions.append(http)
        stack = ProtocolStack(gateway, auth, auth_app, auth_config.common.signing_key.bytes, http, defaults)
        stacks.append(stack)
        return stack

    try:
        yield start
    finally:
        for stack in stacks:
            for session in stack.browsers:
                await session.close()
        for session in sessions:
            await session.close()
        for server in reversed(servers):
            await server.close()
