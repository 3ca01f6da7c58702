"""Fixtures of the gateway tests: the real gateway app on the real RabbitMQ, in front of small real HTTP servers
standing in for the auth service and a backend (peers over HTTP, not mocks of PostgreSQL or RabbitMQ)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.gateway.app import create_app
from services.gateway.config import Config
from shared.errors import Forbidden, Unauthorized
from shared.principal import PRINCIPAL_HEADER, Principal, verify_principal


def basic(username: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()}


def make_principal(
    permissions: frozenset[str] = frozenset({"products:read"}),
    *,
    user_id: int | None = None,
    credential_kind: str = "api_key",
    credential_id: str | None = None,
    is_admin: bool = False,
    expires_at: float | None = None,
) -> Principal:
    user = user_id if user_id is not None else secrets.randbelow(10**9)
    return Principal(
        user_id=user,
        username=f"user-{user}",
        is_admin=is_admin,
        permissions=permissions,
        credential_kind=credential_kind,
        credential_id=credential_id or secrets.token_hex(8),
        expires_at=expires_at,
    )


@dataclass
class AuthStub:
    """The auth service's verification contract, answered from a table the test fills."""

    signing_key: bytes
    known: dict[tuple[str, ...], tuple[Principal, int]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    throttled: bool = False
    answer_delay: float = 0.0

    def api_key(self, principal: Principal, cache_ttl: int = 60) -> str:
        key = f"pk_test_{secrets.token_urlsafe(32)}"
        self.known[("api_key", key)] = (principal, cache_ttl)
        return key

    def basic(self, principal: Principal, cache_ttl: int = 60) -> tuple[str, str]:
        token = secrets.token_urlsafe(24)
        self.known[("basic", principal.username, token)] = (principal, cache_ttl)
        return principal.username, token

    def bearer(self, principal: Principal, cache_ttl: int = 60) -> str:
        token = secrets.token_urlsafe(32)
        self.known[("bearer", token)] = (principal, cache_ttl)
        return token

    def forget(self, principal: Principal) -> None:
        for lookup, (known, _) in list(self.known.items()):
            if known == principal:
                del self.known[lookup]

    async def verify(self, request: web.Request) -> web.Response:
        caller = verify_principal(request.headers.get(PRINCIPAL_HEADER, ""), self.signing_key, "auth")
        if not caller.is_service:
            raise Forbidden("internal")
        if request.content_type != "application/json":
            return web.json_response({"error": {"code": "unsupported_media_type", "message": "JSON"}}, status=415)
        body = await request.json()
        self.calls.append(body)
        await asyncio.sleep(self.answer_delay)
        if self.throttled:
            return web.json_response(
                {"error": {"code": "too_many_requests", "message": "slow down"}},
                status=429,
                headers={"Retry-After": "17"},
            )
        if body["kind"] == "api_key":
            lookup: tuple[str, ...] = ("api_key", body["key"])
        elif body["kind"] == "basic":
            lookup = ("basic", body["username"], body["token"])
        else:
            lookup = ("bearer", body["token"])
        if lookup not in self.known:
            error = Unauthorized("The credential is invalid, expired or revoked")
            return web.json_response({"error": {"code": "invalid_credential", "message": error.message}}, status=401)
        principal, ttl = self.known[lookup]
        return web.json_response({"principal": principal.to_dict(), "cache_ttl": ttl})


@dataclass
class Backend:
    """A backend that reports what reached it; a few paths behave badly on purpose."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    first_chunk_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release_response: asyncio.Event = field(default_factory=asyncio.Event)

    async def echo(self, request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/slow"):
            await asyncio.sleep(3)
        if request.path.endswith("/streamed-answer"):
            return await self._streamed_answer(request)
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.content.iter_any():
            if not self.first_chunk_arrived.is_set():
                self.first_chunk_arrived.set()
            digest.update(chunk)
            size += len(chunk)
        seen = {
            "method": request.method,
            "path": request.raw_path,
            "headers": {name: value for name, value in request.headers.items()},
            "size": size,
            "sha256": digest.hexdigest(),
        }
        self.seen.append(seen)
        response = web.json_response(seen)
        response.set_cookie("backend", "set-by-backend")
        return response

    async def _streamed_answer(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/plain"
        await response.prepare(request)
        await response.write(b"first part;")
        await asyncio.wait_for(self.release_response.wait(), 5)
        await response.write(b"second part")
        await response.write_eof()
        return response


def stub_app(routes: list[web.RouteDef], backend: Backend) -> web.Application:
    app = web.Application()
    app.router.add_routes(routes)
    app.router.add_get("/healthz", _ok)
    # What a starting gateway asks the auth service for: the JWT revocations it would otherwise have forgotten.
    app.router.add_get("/internal/oauth/revocations", _no_revocations)
    app.router.add_route("*", "/{path:.*}", backend.echo)
    return app


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _no_revocations(request: web.Request) -> web.Response:
    return web.json_response({"revoked": []})


@dataclass
class Gateway:
    client: TestClient
    auth: AuthStub
    backend: Backend
    auth_server: TestServer

    @property
    def app(self) -> web.Application:
        return self.client.app  # type: ignore[return-value]


StartGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(
    base_env: dict[str, str], signing_key: str, aiohttp_client: Callable[..., Awaitable[TestClient]]
) -> AsyncIterator[StartGateway]:
    servers: list[TestServer] = []

    async def serve(app: web.Application) -> TestServer:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    async def start(prepare: Callable[[web.Application], None] | None = None, **settings: str) -> Gateway:
        auth = AuthStub(signing_key.encode())
        backend = Backend()
        auth_server = await serve(stub_app([web.post("/internal/verify", auth.verify)], backend))
        backend_server = await serve(stub_app([], backend))
        env = {
            **base_env,
            "AUTH_URL": str(auth_server.make_url("")).rstrip("/"),
            "ODATA_URL": str(backend_server.make_url("")).rstrip("/"),
            "IMPORTER_URL": str(backend_server.make_url("")).rstrip("/"),
            "UPSTREAM_TIMEOUT": "1",
            "VERIFY_TIMEOUT": "1",
            **settings,
        }
        app = create_app(Config.from_env(env))
        if prepare is not None:
            prepare(app)
        client = await aiohttp_client(app)
        return Gateway(client, auth, backend, auth_server)

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> Gateway:
    return await start_gateway()
