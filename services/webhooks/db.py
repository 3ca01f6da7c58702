"""The webhooks schema's queries: async functions taking a connection, SQL with $n parameters only."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

SCHEMA = "webhooks"

_SUBSCRIPTION_COLUMNS = """id, owner_user_id, owner_name, created_by_client, url, events, description, active,
    secret_encrypted, consecutive_failures, disabled_reason, disabled_at, created_at, updated_at"""
# What PATCH may change; column names come only from here.
UPDATABLE = ("url", "events", "description", "active")


async def ping(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1")


# --- subscriptions -----------------------------------------------------------------------------------------------


async def count_owned(conn: asyncpg.Connection, owner_user_id: int) -> int:
    return await conn.fetchval("SELECT count(*) FROM webhooks.subscriptions WHERE owner_user_id = $1", owner_user_id)


async def insert_subscription(
    conn: asyncpg.Connection,
    *,
    subscription_id: uuid.UUID,
    owner_user_id: int,
    owner_name: str,
    created_by_client: str | None,
    url: str,
    events: list[str],
    description: str,
    active: bool,
    secret_encrypted: bytes,
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO webhooks.subscriptions (id, owner_user_id, owner_name, created_by_client, url, events,
                                                description, active, secret_encrypted)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_SUBSCRIPTION_COLUMNS}""",
        subscription_id,
        owner_user_id,
        owner_name,
        created_by_client,
        url,
        events,
        description,
        active,
        secret_encrypted,
    )


async def get_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM webhooks.subscriptions WHERE id = $1", subscription_id
    )


async def list_subscriptions(
    conn: asyncpg.Connection, owner_user_id: int | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_SUBSCRIPTION_COLUMNS} FROM webhooks.subscriptions
            WHERE ($1::bigint IS NULL OR owner_user_id = $1) ORDER BY created_at, id LIMIT $2 OFFSET $3""",
        owner_user_id,
        limit,
        offset,
    )


async def update_subscription(
    conn: asyncpg.Connection, subscription_id: uuid.UUID, changes: Mapping[str, Any]
) -> asyncpg.Record | None:
    assignments: list[str] = []
    values: list[Any] = [subscription_id]
    for name in UPDATABLE:
        if name in changes:
            values.append(changes[name])
            assignments.append(f"{name} = ${len(values)}")
    if changes.get("active") is True:
        # Enabled again by its owner: a fresh start, the reason it was disabled is history.
        assignments += ["consecutive_failures = 0", "disabled_reason = NULL", "disabled_at = NULL"]
    assignments.append("updated_at = now()")
    return await conn.fetchrow(
        f"""UPDATE webhooks.subscriptions SET {", ".join(assignments)} WHERE id = $1
            RETURNING {_SUBSCRIPTION_COLUMNS}""",
        *values,
    )


async def set_secret(conn: asyncpg.Connection, subscription_id: uuid.UUID, secret_encrypted: bytes) -> bool:
    result = await conn.execute(
        "UPDATE webhooks.subscriptions SET secret_encrypted = $2, updated_at = now() WHERE id = $1",
        subscription_id,
        secret_encrypted,
    )
    return result != "UPDATE 0"


async def delete_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> bool:
    result = await conn.execute("DELETE FROM webhooks.subscriptions WHERE id = $1", subscription_id)
    return result != "DELETE 0"


# --- events and their fan-out ------------------------------------------------------------------------------------


async def insert_event(
    conn: asyncpg.Connection,
    event_id: str,
    event_type: str,
    payload: str,
    permission: str,
    audience: Sequence[int] | None,
) -> bool:
    """False when the event was received before (a repeated message)."""
    inserted = await conn.fetchval(
        """INSERT INTO webhooks.events (id, type, payload, permission, audience) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO NOTHING RETURNING true""",
        event_id,
        event_type,
        payload,
        permission,
        list(audience) if audience is not None else None,
    )
    return bool(inserted)


async def subscriptions_for(conn: asyncpg.Connection, event_type: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, owner_user_id FROM webhooks.subscriptions WHERE active AND events @> ARRAY[$1]::text[]",
        event_type,
    )


async def insert_deliveries(conn: asyncpg.Connection, event_id: str, pairs: Sequence[tuple[str, uuid.UUID]]) -> None:
    if pairs:
        await conn.executemany(
            """INSERT INTO webhooks.deliveries (id, subscription_id, event_id, next_attempt_at)
               VALUES ($1, $2, $3, now())""",
            [(delivery_id, subscription_id, event_id) for delivery_id, subscription_id in pairs],
        )


async def unsent_deliveries(conn: asyncpg.Connection, event_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT id FROM webhooks.deliveries WHERE event_id = $1 AND status = 'pending' AND attempts = 0", event_id
    )
    return [row["id"] for row in rows]


# --- attempts ----------------------------------------------------------------------------------------------------


async def delivery_for_attempt(conn: asyncpg.Connection, delivery_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT d.id, d.status, d.attempts, d.subscription_id, s.owner_user_id, s.url, s.active,
                  s.secret_encrypted, e.payload, e.permission, e.audience
           FROM webhooks.deliveries d
           JOIN webhooks.subscriptions s ON s.id = d.subscription_id
           JOIN webhooks.events e ON e.id = d.event_id
           WHERE d.id = $1""",
        delivery_id,
    )


async def lock_subscription(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> bool:
    """Lock the subscription before its delivery, the order a DELETE of the subscription takes them in (the row,
    then its deliveries by cascade), so recording an attempt never deadlocks with a delete; False when it is gone."""
    found = await conn.fetchval(
        "SELECT true FROM webhooks.subscriptions WHERE id = $1 FOR NO KEY UPDATE", subscription_id
    )
    return bool(found)


async def claim_attempt(
    conn: asyncpg.Connection,
    delivery_id: str,
    attempt: int,
    status: str,
    next_attempt_at: datetime | None,
    error: str | None,
) -> asyncpg.Record | None:
    """Record that attempt number `attempt` happened; None when another delivery of the message recorded it first."""
    return await conn.fetchrow(
        """UPDATE webhooks.deliveries SET attempts = $2, status = $3, next_attempt_at = $4, last_error = $5,
                  updated_at = now()
           WHERE id = $1 AND attempts = $2 - 1 AND status = 'pending'
           RETURNING subscription_id""",
        delivery_id,
        attempt,
        status,
        next_attempt_at,
        error,
    )


async def insert_attempt(
    conn: asyncpg.Connection,
    delivery_id: str,
    attempt: int,
    attempted_at: datetime,
    outcome: str,
    status_code: int | None,
    duration_ms: int,
    error: str | None,
    excerpt: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO webhooks.attempts (delivery_id, attempt, attempted_at, outcome, status_code, duration_ms,
                                          error, response_excerpt)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        delivery_id,
        attempt,
        attempted_at,
        outcome,
        status_code,
        duration_ms,
        error,
        excerpt,
    )


async def reset_failures(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE webhooks.subscriptions SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0",
        subscription_id,
    )


async def count_failure(conn: asyncpg.Connection, subscription_id: uuid.UUID, limit: int, reason: str) -> bool:
    """One more failed attempt in a row; True when this one disabled the subscription."""
    return bool(
        await conn.fetchval(
            """UPDATE webhooks.subscriptions
               SET consecutive_failures = consecutive_failures + 1,
                   active = CASE WHEN consecutive_failures + 1 >= $2 THEN false ELSE active END,
                   disabled_reason = CASE WHEN active AND consecutive_failures + 1 >= $2 THEN $3
                                          ELSE disabled_reason END,
                   disabled_at = CASE WHEN active AND consecutive_failures + 1 >= $2 THEN now() ELSE disabled_at END,
                   updated_at = now()
               WHERE id = $1
               RETURNING NOT active AND disabled_at = now()""",
            subscription_id,
            limit,
            reason,
        )
    )


async def claim_overdue(
    conn: asyncpg.Connection, grace: timedelta, push_back: timedelta, limit: int
) -> list[tuple[str, int]]:
    """Pending deliveries whose next attempt is overdue by more than `grace` (their message was lost between a commit
    and a publish): moved `push_back` into the future and returned with their next attempt's number."""
    rows = await conn.fetch(
        """UPDATE webhooks.deliveries SET next_attempt_at = now() + $2::interval
           WHERE id IN (SELECT id FROM webhooks.deliveries
                        WHERE status = 'pending' AND next_attempt_at < now() - $1::interval
                        ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING id, attempts""",
        grace,
        push_back,
        limit,
    )
    return [(row["id"], row["attempts"] + 1) for row in rows]


# --- the delivery log --------------------------------------------------------------------------------------------


async def list_deliveries(
    conn: asyncpg.Connection,
    subscription_id: uuid.UUID,
    status: str | None,
    limit: int,
    before: tuple[datetime, str] | None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT d.id, d.event_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_error, d.created_at,
                  d.updated_at
           FROM webhooks.deliveries d JOIN webhooks.events e ON e.id = d.event_id
           WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.status = $2)
             AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4))
           ORDER BY d.created_at DESC, d.id DESC LIMIT $5""",
        subscription_id,
        status,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )


async def attempts_of(conn: asyncpg.Connection, delivery_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT delivery_id, attempt, attempted_at, outcome, status_code, duration_ms, error, response_excerpt
           FROM webhooks.attempts WHERE delivery_id = ANY($1::text[]) ORDER BY delivery_id, attempt""",
        delivery_ids,
    )


async def get_delivery(conn: asyncpg.Connection, subscription_id: uuid.UUID, delivery_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT d.id, d.event_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_error, d.created_at,
                  d.updated_at
           FROM webhooks.deliveries d JOIN webhooks.events e ON e.id = d.event_id
           WHERE d.subscription_id = $1 AND d.id = $2""",
        subscription_id,
        delivery_id,
    )


async def reopen_delivery(conn: asyncpg.Connection, delivery_id: str) -> int:
    """Make the delivery pending again for a manual re-send; the number its next attempt gets."""
    attempts = await conn.fetchval(
        """UPDATE webhooks.deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now()
           WHERE id = $1 RETURNING attempts""",
        delivery_id,
    )
    return int(attempts) + 1


async def purge_finished(conn: asyncpg.Connection, older_than: timedelta, limit: int) -> int:
    """Delete up to `limit` finished deliveries (with their attempts) last changed before the retention period, and
    the events left without deliveries; the number of deliveries deleted."""
    deleted = await conn.fetch(
        """DELETE FROM webhooks.deliveries WHERE id IN (
               SELECT id FROM webhooks.deliveries WHERE status <> 'pending' AND updated_at < now() - $1::interval
               LIMIT $2)
           RETURNING event_id""",
        older_than,
        limit,
    )
    await conn.execute(
        """DELETE FROM webhooks.events e WHERE e.received_at < now() - $1::interval
           AND NOT EXISTS (SELECT 1 FROM webhooks.deliveries d WHERE d.event_id = e.id)""",
        older_than,
    )
    return len(deleted)
