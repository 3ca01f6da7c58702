"""Publishing the revocation outbox (auth.revocation_outbox) with the shared outbox publisher (shared/outbox.py):
every committed CredentialRevoked reaches the bus, in milliseconds normally and as soon as the broker is back after
an outage; gateways treat a repeated event as harmless.

A request that revoked something answers once its events are on the bus (announce_before_answering, bounded by
ANSWER_WAIT_SECONDS and skipped while the broker is unreachable), so "revoked" in a response still means the gateways
have been told, as when the service published in the request itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel
from aiohttp import web

from services.auth import db
from services.auth.events import recorded_in_request
from shared import outbox
from shared.bus import Topology

ANSWER_WAIT_SECONDS = 1.0


async def publish_pending(pool: asyncpg.Pool, channel: AbstractChannel, exchange: str) -> int:
    """Publish the unpublished revocation events; what was confirmed before a failure stays marked published."""
    return await outbox.publish_pending(pool, channel, db.REVOCATION_OUTBOX, exchange)


class OutboxPublisher(outbox.OutboxPublisher):
    """The background task of one auth replica that puts the revocation outbox on the auth events exchange."""

    def __init__(self, pool: asyncpg.Pool, database_url: str, amqp_url: str, topology: Topology) -> None:
        exchange = topology.auth_events_exchange

        async def declare(channel: AbstractChannel) -> object:
            return await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT, durable=True)

        super().__init__(pool, database_url, amqp_url, db.REVOCATION_OUTBOX, exchange, declare)


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
