"""Publishing the revocation outbox: every committed CredentialRevoked reaches the bus, in milliseconds normally and
as soon as the broker is back after an outage. The same outbox carries the auth service's platform events for webhook
subscribers (shared/platform_events.py: api_key.*, app.*, user.api_access_changed), published to the platform events
exchange instead of auth.events, so gateways never see them.

One OutboxPublisher runs per auth replica. It LISTENs for the notification that an outbox write sends on commit
(services/auth/db.py), so it wakes at once for its own replica's rows and for the other replicas' and the CLI's; it
also polls every second in case a notification is lost with the listening connection. Replicas share the work with
SELECT ... FOR UPDATE SKIP LOCKED, so each event is published once (at least once if a crash falls between the
broker's confirm and the commit; gateways treat a repeated event as harmless).

A request that revoked something answers once its events are on the bus (announce_before_answering, bounded by
ANSWER_WAIT_SECONDS and skipped while the broker is unreachable), so "revoked" in a response still means the gateways
have been told, as when the service published in the request itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractConnection
from aiohttp import web

from services.auth import db
from services.auth.events import recorded_in_request
from shared.bus import Topology, publish
from shared.messages import CredentialRevoked, Message, MessageError
from shared.platform_events import EVENT_CLASSES

log = logging.getLogger(__name__)

BATCH_SIZE = 100
PUBLISH_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0
POLL_INTERVAL_SECONDS = 1.0
RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
PURGE_INTERVAL_SECONDS = 600.0
KEEP_PUBLISHED = timedelta(days=1)
ANSWER_WAIT_SECONDS = 1.0


def _outbox_message(body: str, exchange: str, platform_exchange: str) -> tuple[Message, str]:
    """The message an outbox row holds and the exchange it goes to."""
    data = json.loads(body)
    if isinstance(data, dict) and data.get("kind") in EVENT_CLASSES:
        return EVENT_CLASSES[data["kind"]].from_dict(data), platform_exchange
    return CredentialRevoked.from_dict(data), exchange


async def publish_pending(pool: asyncpg.Pool, channel: AbstractChannel, exchange: str, platform_exchange: str) -> int:
    """Publish the unpublished events in id order until none is left; return how many were published.

    What was confirmed before a failure is marked published before the failure is raised."""
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await db.claim_outbox_events(conn, BATCH_SIZE)
            published: list[int] = []
            failure: Exception | None = None
            for row in rows:
                try:
                    event, target = _outbox_message(row["body"], exchange, platform_exchange)
                except MessageError:  # never retried: a row no publisher can send would hold up every later one
                    log.error("dropping unreadable revocation outbox row %s", row["id"])
                    published.append(row["id"])
                    continue
                try:
                    await asyncio.wait_for(publish(channel, target, event), PUBLISH_TIMEOUT_SECONDS)
                except Exception as error:  # the broker's failures come in many classes; the caller retries all
                    failure = error
                    break
                published.append(row["id"])
            if published:
                await db.mark_outbox_published(conn, published)
        total += len(published)
        if failure is not None:
            raise failure
        if len(rows) < BATCH_SIZE:
            return total


class OutboxPublisher:
    """The background task of one replica that puts the outbox on the bus (see the module docstring)."""

    def __init__(self, pool: asyncpg.Pool, database_url: str, amqp_url: str, topology: Topology) -> None:
        self._pool = pool
        self._database_url = database_url
        self._amqp_url = amqp_url
        self._exchange = topology.auth_events_exchange
        self._platform_exchange = topology.platform_events_exchange
        self._wake = asyncio.Event()
        # Replaced after every successful round, so a waiter holding the old one learns that a round has finished.
        self._drained = asyncio.Event()
        self._reachable = True
        self._listener: asyncpg.Connection | None = None
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None

    def wake(self) -> None:
        self._wake.set()

    async def published(self, ids: list[int], timeout: float) -> bool:
        """Wait, at most `timeout` seconds, until these events are published (by this replica or another)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._reachable:
            async with self._pool.acquire() as conn:
                if not await db.any_outbox_event_unpublished(conn, ids):
                    return True
            drained = self._drained
            self.wake()
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drained.wait(), remaining)
        return False

    async def run(self) -> None:
        """Drain, wait for a wake-up or the poll interval, repeat; back off while PostgreSQL or RabbitMQ fails."""
        loop = asyncio.get_running_loop()
        retry_in = RETRY_FIRST_SECONDS
        next_purge = loop.time()
        try:
            while True:
                self._wake.clear()
                try:
                    await self._ensure_listener()
                    await publish_pending(
                        self._pool, await self._ensure_channel(), self._exchange, self._platform_exchange
                    )
                    if loop.time() >= next_purge:
                        async with self._pool.acquire() as conn:
                            await db.purge_published_outbox(conn, KEEP_PUBLISHED)
                        next_purge = loop.time() + PURGE_INTERVAL_SECONDS
                except Exception as error:  # a background loop outlives any one failed round; the next one retries
                    log.warning("revocation outbox not drained, retrying in %.1f s: %s", retry_in, type(error).__name__)
                    self._reachable = False
                    await self._close_bus()
                    await asyncio.sleep(retry_in)
                    retry_in = min(retry_in * 2, RETRY_MAX_SECONDS)
                    continue
                retry_in = RETRY_FIRST_SECONDS
                self._reachable = True
                self._drained.set()
                self._drained = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_INTERVAL_SECONDS)
        finally:
            await self._close_bus()
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    await self._listener.close(timeout=1.0)

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self._database_url)
        await self._listener.add_listener(db.OUTBOX_CHANNEL, lambda *_: self.wake())

    async def _ensure_channel(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            await self._close_bus()
            self._connection = await aio_pika.connect(self._amqp_url, timeout=CONNECT_TIMEOUT_SECONDS)
            channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            await channel.declare_exchange(self._exchange, aio_pika.ExchangeType.FANOUT, durable=True)
            await channel.declare_exchange(self._platform_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
            self._channel = channel
        return self._channel

    async def _close_bus(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            # It may be broken already (that is why it is being closed), or never answer: bounded either way.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2.0)


OUTBOX = web.AppKey("outbox", OutboxPublisher)


@web.middleware
async def announce_before_answering(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    recorded: list[int] = []
    token = recorded_in_request.set(recorded)
    try:
        return await handler(request)
    finally:
        recorded_in_request.reset(token)
        if recorded and OUTBOX in request.app:
            await request.app[OUTBOX].published(recorded, ANSWER_WAIT_SECONDS)
