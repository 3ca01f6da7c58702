"""Fixtures of the webhooks tests: the real webhooks service (API and deliverer) on the run's database and bus, the
real auth service it asks about owners, users made in it, and receivers on 127.0.0.1 that record what arrives."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from standardwebhooks import Webhook

from services.auth import accounts
from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.auth.context import operator_principal
from services.auth.keys import CONTEXT
from services.auth.permissions import ALL_PERMISSIONS
from services.webhooks.app import create_app
from services.webhooks.config import Config
from services.webhooks.queues import retry_queues
from services.webhooks.targets import StaticResolver
from shared import bus
from shared.platform_events import ApiKeyCreated, PlatformEvent, new_event_id, now_iso
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

# Short delays so a test sees a whole retry run; the production schedule spans more than 24 hours.
TEST_SCHEDULE = "300ms,300ms,300ms"
ARRIVAL_TIMEOUT = 20.0
WEBHOOK_RIGHTS = frozenset({"webhooks:read", "webhooks:create", "webhooks:update", "webhooks:delete"})


@pytest.fixture(scope="session", autouse=True)
def remove_retry_queues(amqp_url: str, bus_prefix: str) -> Any:
    yield

    async def cleanup() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            schedule = Config.from_env(_sample_env()).retry_schedule
            for jitter in (0.0, Config.from_env(_sample_env()).retry_jitter):
                for name in retry_queues(bus.Topology(bus_prefix), schedule, jitter):
                    await channel.queue_delete(name)

    asyncio.run(cleanup())


def _sample_env() -> dict[str, str]:
    return {
        "DATABASE_URL": "postgresql://u@h/db",
        "AMQP_URL": "amqp://h/",
        "INTERNAL_SIGNING_KEY": "k" * 40,
        "ENCRYPTION_KEY": "e" * 40,
        "WEBHOOKS_RETRY_SCHEDULE": TEST_SCHEDULE,
    }


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> Any:
        """The payload, once the standardwebhooks library accepts its signature (raises otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every request and answers with the statuses it is given in
    turn (200 once they are used up)."""

    url: str = ""
    arrivals: list[Arrival] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        async with self._arrived:
            self.arrivals.append(Arrival({name.lower(): value for name, value in request.headers.items()}, body))
            self._arrived.notify_all()
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text=f"answer {status}")

    async def wait_for(self, count: int, timeout: float = ARRIVAL_TIMEOUT) -> list[Arrival]:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.arrivals) >= count)
        return list(self.arrivals)

    def of_type(self, event_type: str) -> list[Arrival]:
        return [arrival for arrival in self.arrivals if b'"type":"' + event_type.encode() + b'"' in arrival.body]


@pytest.fixture
async def start_receiver() -> AsyncIterator[Callable[..., Any]]:
    servers: list[TestServer] = []

    async def start(*answers: int, delay: float = 0.0) -> Receiver:
        receiver = Receiver(answers=list(answers), delay=delay)
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        receiver.url = str(server.make_url("/hook"))
        return receiver

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def receiver(start_receiver: Callable[..., Any]) -> Receiver:
    return await start_receiver()


@dataclass
class AuthService:
    url: str
    app: web.Application

    async def user(self, *permissions: str, admin: bool = False) -> Principal:
        """A user made in the auth service (holding these permissions and every webhooks one), and the principal the
        gateway would sign for their API key."""
        granted = frozenset(permissions) | WEBHOOK_RIGHTS
        user = await accounts.create_user(
            self.app[CONTEXT],
            operator_principal(),
            username=f"user-{secrets.token_hex(6)}",
            email=None,
            password=None,
            is_admin=admin,
            permissions=granted,
        )
        return Principal(
            user_id=user["id"],
            username=user["username"],
            is_admin=admin,
            permissions=ALL_PERMISSIONS if admin else granted,
            credential_kind="api_key",
            credential_id=secrets.token_hex(8),
        )

    async def set_active(self, user: Principal, active: bool) -> None:
        assert user.user_id is not None
        await accounts.update_user(self.app[CONTEXT], operator_principal(), user.user_id, {"is_active": active})


@pytest.fixture
async def auth_service(base_env: dict[str, str]) -> AsyncIterator[AuthService]:
    app = create_auth(AuthConfig.from_env(base_env))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield AuthService(str(server.make_url("")).rstrip("/"), app)
    finally:
        await server.close()


@pytest.fixture
def webhooks_env(base_env: dict[str, str], auth_service: AuthService) -> dict[str, str]:
    return {
        **base_env,
        "AUTH_URL": auth_service.url,
        "WEBHOOKS_RETRY_SCHEDULE": TEST_SCHEDULE,
        "WEBHOOKS_RETRY_JITTER": "0",
        "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOKS_OWNER_CACHE_SECONDS": "0",
        "WEBHOOKS_CONCURRENCY": "8",
    }


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver()


@pytest.fixture
async def start_webhooks(
    aiohttp_client: Any, webhooks_env: dict[str, str], resolver: StaticResolver
) -> Callable[..., Any]:
    async def start(**settings: str) -> TestClient:
        return await aiohttp_client(create_app(Config.from_env({**webhooks_env, **settings}), resolver=resolver))

    return start


@pytest.fixture
async def webhooks(start_webhooks: Callable[..., Any]) -> TestClient:
    return await start_webhooks()


@pytest.fixture
def sign(signing_key: str) -> Callable[..., dict[str, str]]:
    """The gateway's signed principal for a backend (the webhooks service unless another is named)."""

    def headers(principal: Principal, audience: str = "webhooks") -> dict[str, str]:
        return {PRINCIPAL_HEADER: sign_principal(principal, signing_key.encode(), audience)}

    return headers


async def subscribe(
    client: TestClient, headers: dict[str, str], url: str, events: list[str], **fields: Any
) -> dict[str, Any]:
    response = await client.post("/api/webhooks", json={"url": url, "events": events, **fields}, headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()


async def publish_event(amqp_url: str, bus_prefix: str, event: PlatformEvent) -> None:
    """Put an event on the platform events exchange, as the auth service's outbox does."""
    async with bus.open_connection(amqp_url) as connection:
        channel = await bus.open_publisher_channel(connection)
        await bus.declare_topology(channel, bus.Topology(bus_prefix))
        await bus.publish(channel, bus.Topology(bus_prefix).platform_events_exchange, event)


def key_created(user: Principal, name: str = "a key") -> ApiKeyCreated:
    assert user.user_id is not None
    return ApiKeyCreated(
        event_id=new_event_id(),
        occurred_at=now_iso(),
        key_id=secrets.token_hex(8),
        user_id=user.user_id,
        name=name,
        prefix="cap_test",
    )


async def delivery_log(
    client: TestClient, headers: dict[str, str], subscription_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    query = f"?status={status}" if status else ""
    response = await client.get(f"/api/webhooks/{subscription_id}/deliveries{query}", headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["value"]


async def wait_for_log(
    client: TestClient,
    headers: dict[str, str],
    subscription_id: str,
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float = ARRIVAL_TIMEOUT,
) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        while True:
            log = await delivery_log(client, headers, subscription_id)
            if done(log):
                return log
            await asyncio.sleep(0.1)
