"""The revocation outbox: events are written with the change, and reach the bus once, even after a broker outage."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from services.auth import db, events
from services.auth.lifecycle import open_database
from services.auth.outbox import OutboxPublisher
from shared.bus import Topology
from shared.messages import CredentialRevoked
from tests.auth.conftest import Auth
from tests.conftest import RevocationTap
from tests.eventually import eventually


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_database(database_url, 10.0)
    yield pool
    await pool.close()


@contextlib.asynccontextmanager
async def running(publisher: OutboxPublisher) -> AsyncIterator[OutboxPublisher]:
    task = asyncio.create_task(publisher.run())
    try:
        yield publisher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def record(pool: asyncpg.Pool, event: CredentialRevoked) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await events.record(conn, event)


async def published_at(pool: asyncpg.Pool, credential_id: str) -> list[object]:
    rows = await pool.fetch(
        "SELECT published_at FROM auth.revocation_outbox WHERE body->>'credential_id' = $1", credential_id
    )
    return [row["published_at"] for row in rows]


def revoked(credential_id: str) -> CredentialRevoked:
    return CredentialRevoked(reason="revoked", credential_kind="api_key", credential_id=credential_id, user_id=None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_revocation_and_its_event_commit_or_roll_back_together(auth: Auth) -> None:
    user = await auth.user(permissions={"api_keys:delete"})
    key = await auth.create_key(user)
    with pytest.raises(RuntimeError, match="boom"):
        async with auth.ctx.pool.acquire() as conn, conn.transaction():
            assert await db.revoke_api_key(conn, key["id"])
            await auth.ctx.publisher.key_revoked(conn, key["id"], user["id"], "revoked")
            raise RuntimeError("boom")
    assert await published_at(auth.ctx.pool, key["id"]) == []
    assert (await auth.verify_key(key["key"]))[0] == 200

    response = await auth.client.post(f"/api/keys/{key['id']}/revoke", headers=auth.as_user(user))
    assert response.status == 200
    # The request answers once its event is on the bus.
    [when] = await published_at(auth.ctx.pool, key["id"])
    assert when is not None


async def test_an_event_is_written_only_inside_a_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await events.record(conn, revoked(secrets.token_hex(8)))


async def test_a_revocation_reaches_a_bound_queue_within_one_second(auth: Auth, revocations: RevocationTap) -> None:
    user = await auth.user(permissions={"api_keys:delete"})
    key = await auth.create_key(user)
    response = await auth.client.post(f"/api/keys/{key['id']}/revoke", headers=auth.as_user(user))
    assert response.status == 200
    event = await revocations.wait_for(lambda e: e.credential_id == key["id"], timeout=1.0)
    assert event.reason == "revoked"


async def test_an_event_written_while_the_broker_is_unreachable_is_published_when_it_is_back(
    pool: asyncpg.Pool,
    database_url: str,
    amqp_url: str,
    bus_prefix: str,
    revocations: RevocationTap,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = urlsplit(amqp_url)
    port = free_port()
    # Nothing listens on `port` until the relay below opens it: the publisher sees a broker that is down.
    relayed_url = urlunsplit(broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{port}"))
    credential_id = secrets.token_hex(8)
    await record(pool, revoked(credential_id))
    caplog.set_level(logging.WARNING, logger="shared.outbox")
    publisher = asyncio.create_task(OutboxPublisher(pool, database_url, relayed_url, Topology(bus_prefix)).run())
    try:
        # A round that tried to publish it, and failed for want of a broker, left it unpublished.
        await eventually(lambda: "not drained" in caplog.text, what="a failed publishing round")
        assert await published_at(pool, credential_id) == [None]

        async with relay_to(broker.hostname or "127.0.0.1", broker.port or 5672, port):
            event = await revocations.wait_for(lambda e: e.credential_id == credential_id, timeout=10.0)
            assert event.reason == "revoked"

            # The row is marked after the broker's confirm, so it may trail the message by a moment.
            async def marked() -> bool:
                return await published_at(pool, credential_id) != [None]

            await eventually(marked, timeout=1.0, what="the row being marked published")
            publisher.cancel()  # before the relay closes under it
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher


async def test_two_replicas_publish_each_event_once(
    pool: asyncpg.Pool, database_url: str, amqp_url: str, bus_prefix: str, revocations: RevocationTap
) -> None:
    topology = Topology(bus_prefix)
    ids = {secrets.token_hex(8) for _ in range(40)}
    async with (
        running(OutboxPublisher(pool, database_url, amqp_url, topology)),
        running(OutboxPublisher(pool, database_url, amqp_url, topology)),
    ):
        await asyncio.gather(*(record(pool, revoked(credential_id)) for credential_id in ids))

        async def all_marked() -> bool:
            marks = await asyncio.gather(*(published_at(pool, credential_id) for credential_id in ids))
            return all(None not in mark for mark in marks)

        # A row is marked only after the broker confirmed its message into the bound queue.
        await eventually(all_marked, what="every event being published")
    # Both publishers have stopped and closed their connections, which the broker handles after every message sent
    # on them: whatever either published, a duplicate included, is in the queue now.
    seen: list[str] = []
    while (message := await revocations.queue.get(fail=False, no_ack=True)) is not None:
        if (credential_id := CredentialRevoked.decode(message.body).credential_id) in ids:
            seen.append(credential_id)
    assert sorted(seen) == sorted(ids)


@contextlib.asynccontextmanager
async def relay_to(host: str, port: int, listen_port: int) -> AsyncIterator[None]:
    """A TCP relay to the real broker, opened late to stand for a broker that comes back."""
    connections: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        connections.extend((client_writer, upstream_writer))
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(relay, "127.0.0.1", listen_port)
    try:
        yield
    finally:
        server.close()
        for writer in connections:
            writer.close()
        await server.wait_closed()
