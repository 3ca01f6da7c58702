"""Fixtures for the OAuth server: the real auth app (create_app + setup_oauth) on a real port, so a third-party OAuth
client (authlib over httpx) can talk to it; users made directly; a browser (aiohttp client with a cookie jar) that
signs in and answers the consent page; and a small gateway that verifies JWTs with services/gateway/jwt_verifier.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import aio_pika
import aiohttp
import authlib.deprecate  # noqa: F401  (installs its own "always" filter; ours must come after it)
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from services.auth import db as auth_db
from services.auth.app import create_app
from services.auth.config import Config
from services.auth.keys import POOL
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.setup import setup_oauth
from services.auth.permissions import ALL_PERMISSIONS
from services.gateway.jwt_verifier import JwtVerifier
from shared.bus import Topology
from shared.errors import Unauthorized, error_middleware
from shared.messages import CredentialRevoked
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.conftest import SERVICE_SECRET_ENV

with warnings.catch_warnings():
    # authlib 1.9 announces a future move to "httpx2" when its httpx integration is imported; the client is current.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

__all__ = ["AsyncOAuth2Client", "OAuthError"]

PASSWORD = "correct horse battery staple"
ISSUER = "http://127.0.0.1:8080"
CALLBACK = "https://app.example/callback"
# Argon2id with light parameters for the test users only: verification reads the cost from the stored hash, so the
# many sign-ins of the suite stay fast while the code under test is unchanged (production hashes use the defaults).
_PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)


@pytest.fixture
def oauth_env(base_env: dict[str, str]) -> dict[str, str]:
    return {**base_env, **SERVICE_SECRET_ENV, "OAUTH_ISSUER": ISSUER}


def basic_header(client_id: str, secret: str) -> str:
    """RFC 6749 section 2.3.1: each part form-urlencoded, then HTTP Basic."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden_fields(page: str) -> dict[str, str]:
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    }


@dataclass
class OAuthHarness:
    """The running auth app with the OAuth server, and the ways a test talks to it."""

    server: TestServer
    browser: TestClient
    signing_key: bytes
    make_browser: Callable[[], Awaitable[TestClient]]
    # The PKCE verifier of each code code_for obtained with a challenge of its own making, for exchange() to send.
    verifiers: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/auth/oauth/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/auth/oauth/authorize"

    @property
    def pool(self) -> Any:
        return self.server.app[POOL]

    async def user(
        self, *, admin: bool = False, permissions: set[str] | frozenset[str] = frozenset(), signs_in: bool = True
    ) -> dict[str, Any]:
        """A user; only those who sign in on the pages get a password."""
        username = f"user-{secrets.token_hex(6)}"
        async with self.pool.acquire() as conn:
            user_id = await auth_db.insert_user(conn, username, None, _PASSWORD_HASH if signs_in else None, admin)
            await auth_db.replace_permissions(conn, user_id, permissions)
        return {"id": user_id, "username": username, "is_admin": admin, "permissions": frozenset(permissions)}

    def as_user(self, user: dict[str, Any], permissions: frozenset[str] | None = None) -> dict[str, str]:
        rights = ALL_PERMISSIONS if user["is_admin"] else user["permissions"]
        principal = Principal(
            user_id=user["id"],
            username=user["username"],
            is_admin=user["is_admin"],
            permissions=rights if permissions is None else permissions,
            credential_kind="api_key",
            credential_id="test",
        )
        return {PRINCIPAL_HEADER: sign_principal(principal, self.signing_key, "auth")}

    async def developer(self) -> dict[str, Any]:
        return await self.user(permissions={"apps:read", "apps:create", "apps:update", "apps:delete"}, signs_in=False)

    async def register_app(self, owner: dict[str, Any], **settings: Any) -> dict[str, Any]:
        body = {
            "name": f"App {secrets.token_hex(3)}",
            "redirect_uris": [CALLBACK],
            "scopes": ["read", "write", "products:read"],
            **settings,
        }
        response = await self.browser.post("/api/apps", json=body, headers=self.as_user(owner))
        assert response.status == 201, await response.text()
        return await response.json()

    async def sign_in(self, browser: TestClient, user: dict[str, Any], next_url: str = "") -> aiohttp.ClientResponse:
        page = await browser.get("/auth/login", params={"next": next_url} if next_url else None)
        fields = hidden_fields(await page.text())
        return await browser.post(
            "/auth/login",
            data={**fields, "username": user["username"], "password": PASSWORD},
            allow_redirects=False,
        )

    async def consent(self, browser: TestClient, authorize_url: str, user: dict[str, Any], decision: str) -> str:
        """Follow an authorization URL as a user would: sign in, read the consent page, press a button (unless a
        remembered consent sends the user straight back). Returns the Location the user is sent back to."""
        parts = urlsplit(authorize_url)
        response = await browser.get(f"{parts.path}?{parts.query}", allow_redirects=False)
        if response.status == 303:
            login = urlsplit(response.headers["Location"])
            next_url = parse_qs(login.query)["next"][0]
            signed_in = await self.sign_in(browser, user, next_url)
            assert signed_in.status == 303, await signed_in.text()
            response = await browser.get(signed_in.headers["Location"], allow_redirects=False)
        if response.status == 302 and decision == "allow":
            return response.headers["Location"]  # an earlier consent covers the scopes: not asked again
        assert response.status == 200, await response.text()
        fields = hidden_fields(await response.text())
        answer = await browser.post(
            "/auth/oauth/authorize", data={**fields, "decision": decision}, allow_redirects=False
        )
        assert answer.status == 302, await answer.text()
        return answer.headers["Location"]

    async def code_for(
        self,
        app: dict[str, Any],
        user: dict[str, Any],
        *,
        scope: str = "read",
        challenge: str | None = None,
        redirect_uri: str | None = CALLBACK,
    ) -> str:
        """A fresh code for the user (signing in with a new browser), through the real pages. PKCE is required: without
        a challenge given, one is made here and its verifier remembered for exchange()."""
        params = {"client_id": app["client_id"], "response_type": "code", "scope": scope, "state": "xyz"}
        if redirect_uri is not None:
            params["redirect_uri"] = redirect_uri
        verifier = None
        if challenge is None:
            verifier, challenge = pkce_pair()
        params.update(code_challenge=challenge, code_challenge_method="S256")
        location = await self.consent(
            await self.make_browser(), f"/auth/oauth/authorize?{urlencode(params)}", user, "allow"
        )
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == ["xyz"], location
        code = query["code"][0]
        if verifier is not None:
            self.verifiers[code] = verifier
        return code

    async def token_request(
        self, data: dict[str, str] | list[tuple[str, str]], basic: tuple[str, str] | None = None
    ) -> tuple[int, dict[str, Any], Any]:
        headers = {"Authorization": basic_header(*basic)} if basic is not None else None
        response = await self.browser.post("/auth/oauth/token", data=data, headers=headers)
        return response.status, await response.json(), response.headers

    async def exchange(self, app: dict[str, Any], code: str, **extra: str) -> tuple[int, dict[str, Any], Any]:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
        if code in self.verifiers:
            data["code_verifier"] = self.verifiers[code]
        data.update(extra)
        return await self.token_request(data, basic=(app["client_id"], app["client_secret"]))

    async def tokens_for(self, app: dict[str, Any], user: dict[str, Any], scope: str = "read") -> dict[str, Any]:
        status, body, _ = await self.exchange(app, await self.code_for(app, user, scope=scope))
        assert status == 200, body
        return body

    async def introspect(self, app: dict[str, Any], token: str) -> dict[str, Any]:
        response = await self.browser.post(
            "/auth/oauth/introspect",
            data={"token": token},
            headers={"Authorization": basic_header(app["client_id"], app["client_secret"])},
        )
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.fixture
async def oauth(aiohttp_client: Callable[..., Any], oauth_env: dict[str, str]) -> OAuthHarness:
    config = Config.from_env(oauth_env)
    app = create_app(config)
    if OAUTH not in app:  # until the lead wires setup_oauth into create_app
        setup_oauth(app, config, OAuthConfig.from_env(oauth_env))
    server = TestServer(app, host="127.0.0.1")
    browser = await aiohttp_client(server)
    return OAuthHarness(
        server=server,
        browser=browser,
        signing_key=config.common.signing_key.bytes,
        make_browser=lambda: aiohttp_client(server),
    )


@pytest.fixture
def new_browser(aiohttp_client: Callable[..., Any], oauth: OAuthHarness) -> Callable[[], Any]:
    """Another browser (its own cookie jar) on the same server."""

    async def make() -> TestClient:
        return await aiohttp_client(oauth.server)

    return make


# --- a small gateway: Bearer JWTs verified locally, revocations consumed from the bus ---------------------------


@dataclass
class Gateway:
    url: str
    verifier: JwtVerifier
    revoked_seen: list[CredentialRevoked]


async def _forward(
    session: aiohttp.ClientSession, target: str, request: web.Request, extra: dict[str, str]
) -> web.Response:
    headers = {name: value for name, value in request.headers.items() if name.lower() not in ("host", "content-length")}
    headers.update(extra)
    headers = {name: value for name, value in headers.items() if value}  # an empty value removes a header
    body = await request.read()
    async with session.request(
        request.method, target + request.path_qs, headers=headers, data=body or None, allow_redirects=False
    ) as answer:
        payload = await answer.read()
        kept = {
            name: value
            for name, value in answer.headers.items()
            if name.lower() in ("content-type", "cache-control", "pragma", "www-authenticate", "location")
        }
        return web.Response(status=answer.status, body=payload, headers=kept)


def gateway_app(auth_url: str, odata_url: str | None, verifier: JwtVerifier, signing_key: bytes) -> web.Application:
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        app[session_key] = aiohttp.ClientSession()
        yield
        await app[session_key].close()

    async def public(request: web.Request) -> web.Response:
        return await _forward(request.app[session_key], auth_url, request, {"X-Forwarded-Proto": "http"})

    async def protected(request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Bearer token required", headers={"WWW-Authenticate": 'Bearer realm="api"'})
        principal = await verifier.verify(token)
        audience, backend = ("odata", odata_url) if request.path.startswith("/odata") else ("auth", auth_url)
        if backend is None:
            raise web.HTTPNotFound()
        headers = {PRINCIPAL_HEADER: sign_principal(principal, signing_key, audience), "Authorization": ""}
        return await _forward(request.app[session_key], backend, request, headers)

    app = web.Application(middlewares=[error_middleware])
    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/auth/{tail:.*}", public)
    app.router.add_route("*", "/.well-known/{tail:.*}", public)
    app.router.add_route("*", "/odata/{tail:.*}", protected)
    app.router.add_route("*", "/api/{tail:.*}", protected)
    return app


@pytest.fixture
async def gateway(oauth: OAuthHarness, amqp_url: str, bus_prefix: str) -> AsyncIterator[Callable[..., Any]]:
    """Starts gateways in front of the auth app: /auth and /.well-known are public; /api goes to the auth app and
    /odata to an odata service when one is given, both with the JWT verified locally and the principal signed."""
    connection = await aio_pika.connect_robust(amqp_url)
    servers: list[TestServer] = []
    verifiers: list[JwtVerifier] = []

    async def start(odata_url: str | None = None) -> Gateway:
        verifier = JwtVerifier(f"{oauth.base_url}/.well-known/jwks.json", ISSUER, ISSUER, min_refresh_interval=0.5)
        verifiers.append(verifier)
        seen: list[CredentialRevoked] = []
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            Topology(bus_prefix).auth_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                event = CredentialRevoked.decode(message.body)
                seen.append(event)
                verifier.handle_revocation(event)

        await queue.consume(on_message)
        server = TestServer(gateway_app(oauth.base_url, odata_url, verifier, oauth.signing_key), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return Gateway(str(server.make_url("")).rstrip("/"), verifier, seen)

    try:
        yield start
    finally:
        for server in servers:
            await server.close()
        for verifier in verifiers:
            await verifier.close()
        await connection.close()


async def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> float:
    """Poll an async condition; return the seconds it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < timeout:
        if await condition():
            return loop.time() - started
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")
