"""A transactional outbox: a message written in the transaction of the change it announces, put on the bus by a
background publisher, in milliseconds normally and as soon as the broker is back after an outage.

A service writes the message with `write` inside its transaction: the row exists exactly when the change committed,
so a crash between the commit and the publish loses nothing. One OutboxPublisher runs per replica. It LISTENs for
the notification that `write` sends on commit, so it wakes at once for its own replica's rows and for the other
replicas' (and a CLI's); it also polls every second, which sweeps up the rows of a replica that died before
publishing and survives a notification lost with the listening connection. Replicas share the work with
SELECT ... FOR UPDATE SKIP LOCKED, so each message is published once (at least once if a crash falls between the
broker's confirm and the commit; consumers treat a repeated message as harmless).

A table holds one message kind: `id bigserial PRIMARY KEY, body jsonb, created_at, published_at` (see the services'
migrations).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractConnection

from shared.bus import publish
from shared.messages import Message, MessageError

log = logging.getLogger(__name__)

BATCH_SIZE = 100
PUBLISH_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0
POLL_INTERVAL_SECONDS = 1.0
RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
PURGE_INTERVAL_SECONDS = 600.0
KEEP_PUBLISHED = timedelta(days=1)
CLOSE_TIMEOUT_SECONDS = 2.0

_QUALIFIED_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")

Declare = Callable[[AbstractChannel], Awaitable[object]]


@dataclass(frozen=True)
class OutboxTable:
    """One service's outbox: its table (a constant of the service, never input), its wake-up channel, the one
    message kind its rows hold and the routing key they are published with."""

    table: str
    channel: str
    message: type[Message]
    routing_key: str = ""

    def __post_init__(self) -> None:
        if not _QUALIFIED_NAME.match(self.table):
            raise ValueError(f"an outbox table is a schema-qualified lower-case name, not {self.table!r}")


async def write(conn: asyncpg.Connection, outbox: OutboxTable, message: Message) -> int:
    """Add the message in the caller's transaction; publishers are woken when (and only if) it commits.

    Sent as text and cast in SQL, so a connection's own jsonb codec (if it has one) does not encode it twice."""
    if not isinstance(message, outbox.message):
        raise TypeError(f"{outbox.table} holds {outbox.message.KIND} messages, not {message.KIND}")
    if not conn.is_in_transaction():
        raise RuntimeError("an outbox message must be written in the transaction of the change it announces")
    message_id = await conn.fetchval(
        f"INSERT INTO {outbox.table} (body) VALUES ($1::text::jsonb) RETURNING id", message.encode().decode()
    )
    # PostgreSQL delivers the notification only when the writing transaction commits.
    await conn.execute("SELECT pg_notify($1, '')", outbox.channel)
    return message_id


async def any_unpublished(conn: asyncpg.Connection, outbox: OutboxTable, ids: list[int]) -> bool:
    return await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {outbox.table} WHERE id = ANY($1::bigint[]) AND published_at IS NULL)", ids
    )


async def _claim(conn: asyncpg.Connection, outbox: OutboxTable, limit: int) -> list[asyncpg.Record]:
    """The oldest unpublished messages, locked until the transaction ends; rows another replica holds are skipped."""
    return await conn.fetch(
        f"""SELECT id, body::text AS body FROM {outbox.table} WHERE published_at IS NULL
            ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )


async def _mark_published(conn: asyncpg.Connection, outbox: OutboxTable, ids: list[int]) -> None:
    await conn.execute(f"UPDATE {outbox.table} SET published_at = now() WHERE id = ANY($1::bigint[])", ids)


async def _purge_published(conn: asyncpg.Connection, outbox: OutboxTable, older_than: timedelta) -> None:
    await conn.execute(f"DELETE FROM {outbox.table} WHERE published_at < now() - $1::interval", older_than)


async def publish_pending(pool: asyncpg.Pool, channel: AbstractChannel, outbox: OutboxTable, exchange: str) -> int:
    """Publish the unpublished messages in id order until none is left; return how many were published.

    What was confirmed before a failure is marked published before the failure is raised."""
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await _claim(conn, outbox, BATCH_SIZE)
            published: list[int] = []
            failure: Exception | None = None
            for row in rows:
                try:
                    message = outbox.message.decode(row["body"].encode())
                except MessageError:  # never retried: a row no publisher can send would hold up every later one
                    log.error("dropping unreadable %s row %s", outbox.table, row["id"])
                    published.append(row["id"])
                    continue
                try:
                    await asyncio.wait_for(
                        publish(channel, exchange, message, routing_key=outbox.routing_key), PUBLISH_TIMEOUT_SECONDS
                    )
                except Exception as error:  # the broker's failures come in many classes; the caller retries all
                    failure = error
                    break
                published.append(row["id"])
            if published:
                await _mark_published(conn, outbox, published)
        total += len(published)
        if failure is not None:
            raise failure
        if len(rows) < BATCH_SIZE:
            return total


class OutboxPublisher:
    """The background task of one replica that puts an outbox on the bus (see the module docstring).

    `declare` makes what the messages are published to (an exchange, a bound queue) on each new channel."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        database_url: str,
        amqp_url: str,
        outbox: OutboxTable,
        exchange: str,
        declare: Declare,
    ) -> None:
        self._pool = pool
        self._database_url = database_url
        self._amqp_url = amqp_url
        self._outbox = outbox
        self._exchange = exchange
        self._declare = declare
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
        """Wait, at most `timeout` seconds, until these messages are published (by this replica or another)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._reachable:
            async with self._pool.acquire() as conn:
                if not await any_unpublished(conn, self._outbox, ids):
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
                    await publish_pending(self._pool, await self._ensure_channel(), self._outbox, self._exchange)
                    if loop.time() >= next_purge:
                        async with self._pool.acquire() as conn:
                            await _purge_published(conn, self._outbox, KEEP_PUBLISHED)
                        next_purge = loop.time() + PURGE_INTERVAL_SECONDS
                except Exception as error:  # a background loop outlives any one failed round; the next one retries
                    log.warning(
                        "%s not drained, retrying in %.1f s: %s", self._outbox.table, retry_in, type(error).__name__
                    )
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
                    await self._listener.close(timeout=CLOSE_TIMEOUT_SECONDS)

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self._database_url)
        await self._listener.add_listener(self._outbox.channel, lambda *_: self.wake())

    async def _ensure_channel(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            await self._close_bus()
            self._connection = await aio_pika.connect(self._amqp_url, timeout=CONNECT_TIMEOUT_SECONDS)
            channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            await self._declare(channel)
            self._channel = channel
        return self._channel

    async def _close_bus(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            # It may be broken already (that is why it is being closed), or never answer: bounded either way.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT_SECONDS)
