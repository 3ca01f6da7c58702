"""The Idempotency-Key header of POST /api/import (draft-ietf-httpapi-idempotency-key-header): a retried upload
with the key of an earlier one, from the same owner, answers that first job instead of starting another.

The key alone identifies the request: a retry is answered from the stored job without reading its body again
(the body of a retry after a dropped connection is the same file). Keys live KEY_HOURS.
"""

from __future__ import annotations

import uuid

import asyncpg

from shared.errors import BadRequest

HEADER = "Idempotency-Key"
KEY_HOURS = 24
MAX_KEY_LENGTH = 255


class InvalidIdempotencyKey(BadRequest):
    code = "invalid_idempotency_key"


class KeyTaken(Exception):
    """Another upload with the same key committed first (a concurrent retry); its job is the answer."""


def read_key(value: str | None) -> str | None:
    """The header's key: 1-255 visible ASCII characters (a quoted sf-string's quotes are dropped)."""
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(0x21 <= ord(char) <= 0x7E for char in key):
        raise InvalidIdempotencyKey(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters", target=HEADER)
    return key


async def job_for_key(conn: asyncpg.Connection | asyncpg.Pool, owner: str, key: str) -> uuid.UUID | None:
    return await conn.fetchval(
        "SELECT job_id FROM importer.idempotency_keys "
        "WHERE owner = $1 AND key = $2 AND created_at > now() - make_interval(hours => $3)",
        owner,
        key,
        KEY_HOURS,
    )


async def claim_key(conn: asyncpg.Connection, owner: str, key: str, job_id: uuid.UUID) -> None:
    """Record the key for this job, in the upload's transaction; KeyTaken when a live key is there already."""
    await forget_expired(conn)
    claimed = await conn.fetchval(
        "INSERT INTO importer.idempotency_keys (owner, key, job_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (owner, key) DO NOTHING RETURNING true",
        owner,
        key,
        job_id,
    )
    if not claimed:
        raise KeyTaken


async def forget_expired(conn: asyncpg.Connection | asyncpg.Pool) -> None:
    await conn.execute(
        "DELETE FROM importer.idempotency_keys WHERE created_at <= now() - make_interval(hours => $1)", KEY_HOURS
    )
