"""Background duties of every replica: re-publishing deliveries whose message was lost, and the log's retention.

A delivery's next attempt lives in two places: the row (status pending, next_attempt_at) and a message in a delay
queue or the deliveries queue. A crash between a commit and its publish leaves the row without a message; the sweep
finds rows overdue by SWEEP_GRACE and publishes their attempt again (an attempt made twice is recorded once).
Finished deliveries older than WEBHOOKS_LOG_RETENTION_DAYS are deleted with their attempts, in bounded batches.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg
from aio_pika.abc import AbstractChannel

from services.webhooks import db
from services.webhooks.queues import DeliveryDue, publish_due
from shared.bus import Topology

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 30.0
SWEEP_GRACE = timedelta(minutes=2)
SWEEP_PUSH_BACK = timedelta(minutes=5)
SWEEP_BATCH = 500
PURGE_INTERVAL_SECONDS = 3600.0
PURGE_BATCH = 5000


async def sweep_overdue(pool: asyncpg.Pool, channel: AbstractChannel, topology: Topology) -> int:
    async with pool.acquire() as conn, conn.transaction():
        overdue = await db.claim_overdue(conn, SWEEP_GRACE, SWEEP_PUSH_BACK, SWEEP_BATCH)
    for delivery_id, attempt in overdue:
        await publish_due(channel, topology, DeliveryDue(delivery_id=delivery_id, attempt=attempt))
    if overdue:
        log.warning("re-published %d overdue deliveries", len(overdue))
    return len(overdue)


async def purge_log(pool: asyncpg.Pool, retention: timedelta) -> int:
    total = 0
    while True:
        async with pool.acquire() as conn:
            deleted = await db.purge_finished(conn, retention, PURGE_BATCH)
        total += deleted
        if deleted < PURGE_BATCH:
            return total


async def run_housekeeping(
    pool: asyncpg.Pool, channel: AbstractChannel, topology: Topology, retention: timedelta
) -> None:
    loop = asyncio.get_running_loop()
    next_purge = loop.time()
    while True:
        try:
            await sweep_overdue(pool, channel, topology)
            if loop.time() >= next_purge:
                purged = await purge_log(pool, retention)
                if purged:
                    log.info("purged %d deliveries older than the retention period", purged)
                next_purge = loop.time() + PURGE_INTERVAL_SECONDS
        except Exception as error:  # a background loop outlives any one failed round; the next one retries
            log.warning("webhooks housekeeping failed: %s", type(error).__name__)
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
