"""From platform events to deliveries.

Each event (shared/platform_events.py) is stored once (its id is stable, so a repeated message is recognised) and,
in the same transaction, one delivery is created for every active subscription that names its type and whose owner
is in the event's audience (or is an admin). After the commit each delivery's first attempt is published, and only
then is the event's message acknowledged: a crash in between redelivers the message, which finds the event stored
and publishes the deliveries not yet attempted (the deliverer ignores an attempt already made). Whether the owner
may see the event is checked again at every attempt (services/webhooks/deliverer.py).
"""

from __future__ import annotations

import json
import logging
import uuid

import asyncpg
from aio_pika.abc import AbstractChannel

from services.webhooks import db
from services.webhooks.owners import OwnerDirectory
from services.webhooks.queues import DeliveryDue, publish_due
from shared.bus import Topology
from shared.platform_events import PlatformEvent

log = logging.getLogger(__name__)


def new_delivery_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def webhook_payload(event: PlatformEvent) -> str:
    """The body every receiver of the event gets: Standard Webhooks' type, timestamp and data."""
    return json.dumps(
        {"type": event.KIND, "timestamp": event.occurred_at, "data": event.data()},
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def take_event(
    pool: asyncpg.Pool, owners: OwnerDirectory, channel: AbstractChannel, topology: Topology, event: PlatformEvent
) -> int:
    """Store the event and create its deliveries; the number of first attempts published."""
    audience = event.audience()
    async with pool.acquire() as conn, conn.transaction():
        if await db.insert_event(conn, event.event_id, event.KIND, webhook_payload(event), event.PERMISSION, audience):
            chosen: list[tuple[str, uuid.UUID]] = []
            for row in await db.subscriptions_for(conn, event.KIND):
                if audience is None or row["owner_user_id"] in audience or await _is_admin(owners, row):
                    chosen.append((new_delivery_id(), row["id"]))
            await db.insert_deliveries(conn, event.event_id, chosen)
            due = [delivery_id for delivery_id, _ in chosen]
        else:
            due = await db.unsent_deliveries(conn, event.event_id)
    for delivery_id in due:
        await publish_due(channel, topology, DeliveryDue(delivery_id=delivery_id, attempt=1))
    if due:
        log.info("event %s: %d deliveries", event.KIND, len(due))
    return len(due)


async def _is_admin(owners: OwnerDirectory, row: asyncpg.Record) -> bool:
    owner = await owners.access(row["owner_user_id"])
    return owner is not None and owner.active and owner.is_admin
