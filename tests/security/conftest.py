"""The security suite: attacks performed from the outside, over HTTP through the gateway, against the real services.

`stack` starts auth, odata, importer and the gateway on free ports (the run's database and bus, demo data loaded by
the real CLIs) and gives the ways a test reaches them: users made directly in the database (with a password, so they
can sign in on the pages), plain and cookie-keeping HTTP sessions on the gateway, and the three ways an application
gets a token (authorization code with PKCE, client credentials, api.php). `admin` is the operator: an admin API key
sent through the gateway. Setting up goes wherever is quickest; the attack itself always goes through the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher

from services.auth import db as auth_db
from services.auth.keys import POOL
from tests.conftest import SERVICE_SECRET_ENV
from tests.security._stack_principal import Stack as ProcessStack
from tests.security._stack_principal import running_stack

PASSWORD = "correct horse battery staple"
CALLBACK = "https://app.example/callback"
# Light Argon2id parameters for the suite's users only: verification reads the cost from the stored hash, so sign-ins
# stay quick while the code under test is unchanged.
_PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    permissions: frozenset[str]
    is_admin: bool = False


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole."""

    status: int
    headers: Any
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def hidden_fields(page: str) -> dict[str, str]:
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    }


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def basic(username: str, secret: str) -> dict[str, str]:
    """HTTP Basic, each part form-urlencoded first as RFC 6749 section 2.3.1 asks of client credentials."""
    raw = f"{quote(username, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Stack:
    """The running platform and the ways a test talks to it."""

    gateway: str
    auth: str
    odata: str
    importer: str
    auth_app: web.Application
    env: dict[str, str]
    _servers: list[TestServer] = field(default_factory=list, repr=False)

    # --- talking to the gateway --------------------------------------------------------------------------------

    async def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        async with aiohttp.ClientSession() as http:
            async with http.request(method, f"{self.gateway}{path}", allow_redirects=False, **kwargs) as response:
                return Answer(response.status, response.headers, await response.text())

    def browser(self) -> aiohttp.ClientSession:
        """A session keeping cookies, as a browser does (unsafe=True: the gateway is reached by IP address)."""
        return aiohttp.ClientSession(self.gateway, cookie_jar=aiohttp.CookieJar(unsafe=True))

    # --- users -------------------------------------------------------------------------------------------------

    async def user(self, permissions: Iterable[str] = (), *, admin: bool = False) -> User:
        """A user with a password (PASSWORD), made directly in the database."""
        username = f"sec-{secrets.token_hex(6)}"
        rights = frozenset(permissions)
        async with self.auth_app[POOL].acquire() as conn:
            user_id = await auth_db.insert_user(conn, username, None, _PASSWORD_HASH, admin)
            await auth_db.replace_permissions(conn, user_id, rights)
        return User(user_id, username, rights, admin)

    async def sign_in(self, browser: aiohttp.ClientSession, user: User, next_url: str = "/panel/") -> str:
        """The login page, as a person fills it in; returns where it sends them."""
        login = await browser.get("/auth/login", params={"next": next_url}, allow_redirects=False)
        assert login.status == 200, await login.text()
        fields = hidden_fields(await login.text())
        answer = await browser.post(
            "/auth/login",
            data={**fields, "username": user.username, "password": PASSWORD},
            allow_redirects=False,
        )
        assert answer.status == 303, await answer.text()
        return answer.headers["Location"]

    # --- what an application does to get a token ---------------------------------------------------------------

    async def authorization_code_tokens(self, app: dict[str, Any], user: User, scope: str = "read") -> dict[str, Any]:
        """RFC 6749 section 4.1 with PKCE S256: the user signs in and allows on the real pages; the app exchanges."""
        verifier, challenge = pkce_pair()
        params = {
            "client_id": app["client_id"],
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        async with self.browser() as browser:
            authorize = f"/auth/oauth/authorize?{urlencode(params)}"
            response = await browser.get(authorize, allow_redirects=False)
            if response.status in (302, 303) and "/auth/login" in response.headers["Location"]:
                back = await self.sign_in(browser, user, query_of(response.headers["Location"])["next"])
                response = await browser.get(back, allow_redirects=False)
            assert response.status == 200, await response.text()
            fields = hidden_fields(await response.text())
            decided = await browser.post(
                "/auth/oauth/authorize", data={**fields, "decision": "allow"}, allow_redirects=False
            )
            assert decided.status == 302, await decided.text()
            returned = query_of(decided.headers["Location"])
        assert returned["state"] == params["state"], returned
        answer = await self.call(
            "POST",
            "/auth/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": returned["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
            headers=basic(app["client_id"], app["client_secret"]),
        )
        assert answer.status == 200, answer.text
        return answer.json()

    async def client_credentials_token(self, app: dict[str, Any], scope: str = "read") -> str:
        answer = await self.call(
            "POST",
            "/auth/oauth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            headers=basic(app["client_id"], app["client_secret"]),
        )
        assert answer.status == 200, answer.text
        return str(answer.json()["access_token"])

    async def apiphp_token(self, user: User, client_id: str = "com.example.shopsync") -> str:
        """api.php's flow: the user allows on the access page, the client exchanges the code."""
        params = {
            "response_type": "code",
            "client_id": client_id,
            "client_name": "Shop Sync",
            "scope": "shop",
            "redirect_uri": CALLBACK,
        }
        async with self.browser() as browser:
            response = await browser.get("/api.php/auth", params=params, allow_redirects=False)
            if response.status == 303:
                back = await self.sign_in(browser, user, query_of(response.headers["Location"])["next"])
                response = await browser.get(back, allow_redirects=False)
            assert response.status == 200, await response.text()
            fields = hidden_fields(await response.text())
            decided = await browser.post("/api.php/auth", data={**fields, "decision": "allow"}, allow_redirects=False)
            assert decided.status == 302, await decided.text()
            code = query_of(decided.headers["Location"])["code"]
        answer = await self.call(
            "POST",
            "/api.php/token",
            params={"redirect_uri": CALLBACK, "format": "json"},
            data={"code": code, "client_id": client_id, "grant_type": "authorization_code"},
        )
        assert answer.status == 200, answer.text
        return str(answer.json()["access_token"])

    # --- processes ---------------------------------------------------------------------------------------------

    async def start_gateway(self, **settings: str) -> str:
        """Another gateway in front of the same services (a replica, or a restart), with extra settings."""
        from services.gateway.app import create_app as create_gateway
        from services.gateway.config import Config as GatewayConfig

        env = {**self.env, "AUTH_URL": self.auth, "ODATA_URL": self.odata, "IMPORTER_URL": self.importer, **settings}
        return await _start(self._servers, create_gateway(GatewayConfig.from_env(env)))


async def _start(servers: list[TestServer], app: web.Application) -> str:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    servers.append(server)
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def stack(base_env: dict[str, str], demo_data: None) -> AsyncIterator[Stack]:
    from services.auth.app import create_app as create_auth
    from services.auth.config import Config as AuthConfig
    from services.importer.app import create_app as create_importer
    from services.importer.config import Config as ImporterConfig
    from services.odata.app import create_app as create_odata
    from services.odata.config import Config as OdataConfig

    env = {**base_env, **SERVICE_SECRET_ENV, "IMPORT_WAIT_SECONDS": "15"}
    servers: list[TestServer] = []
    try:
        auth_app = create_auth(AuthConfig.from_env(env))
        auth = await _start(servers, auth_app)
        odata = await _start(servers, create_odata(OdataConfig.from_env(env)))
        importer = await _start(servers, create_importer(ImporterConfig.from_env(env)))
        running = Stack("", auth, odata, importer, auth_app, env, servers)
        running.gateway = await running.start_gateway()
        yield running
    finally:
        for server in reversed(servers):
            await server.close()


@dataclass(frozen=True)
class Admin:
    """The operator, through the gateway with an admin API key."""

    stack: Stack
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    async def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        return await self.stack.call(method, path, headers=self.headers, **kwargs)

    async def api_key_for(self, user: User, scope: Iterable[str] | None = None) -> str:
        """An API key of that user's own (an admin may create one for anyone)."""
        body: dict[str, Any] = {"name": "security suite", "user_id": user.id}
        if scope is not None:
            body["scope"] = sorted(scope)
        answer = await self.call("POST", "/api/keys", json=body)
        assert answer.status == 201, answer.text
        return str(answer.json()["key"])

    async def enable_api_token(self, user: User) -> str:
        answer = await self.call("POST", f"/api/users/{user.id}/api-access", json={"enabled": True})
        assert answer.status == 200, answer.text
        return str(answer.json()["token"])

    async def register_app(self, developer: User, **settings: Any) -> dict[str, Any]:
        """A developer app registered by `developer` with their own API key (they need apps:create)."""
        body = {
            "name": f"App {secrets.token_hex(3)}",
            "redirect_uris": [CALLBACK],
            "scopes": ["read", "write"],
            **settings,
        }
        key = await self.api_key_for(developer)
        answer = await self.stack.call("POST", "/api/apps", json=body, headers={"X-API-Key": key})
        assert answer.status == 201, answer.text
        return dict(answer.json())


@pytest.fixture
async def admin(stack: Stack, admin_api_key: str) -> Admin:
    return Admin(stack, admin_api_key)


@pytest.fixture(scope="module")
def process_stack(
    database_url: str,
    amqp_url: str,
    bus_prefix: str,
    signing_key: str,
    admin_api_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProcessStack]:
    """The four services as processes (python -m services.<name>), one set per test module, for what only a real
    process shows: its listeners, its logs, its metrics endpoint."""
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": bus_prefix,
        "INTERNAL_SIGNING_KEY": signing_key,
        "LISTEN_HOST": "127.0.0.1",
        **SERVICE_SECRET_ENV,
    }
    with running_stack(env, Path(tmp_path_factory.mktemp("stack"))) as running:
        yield running
