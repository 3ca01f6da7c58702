"""The importer's queries: mappers, jobs, upload chunks and row errors (schema `importer`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.errors import Conflict
from shared.messages import ImportJobFinished, ImportJobRequested
from shared.outbox import OutboxTable
from shared.platform_events import ImportCompleted, ImportFailed, ProductsCreated, ProductsUpdated

SCHEMA = "importer"
TERMINAL = ("completed", "failed", "cancelled")
STATUSES = ("queued", "running", *TERMINAL)
# A job's times are PostgreSQL's clock_timestamp(), the one clock every replica shares. Not now(): that is the start
# of the writing transaction, and a job's outcome is written in a transaction that began before it was marked running.
# The jobs' messages, written with the job in the upload's transaction (shared/outbox.py).
JOB_OUTBOX = OutboxTable("importer.job_outbox", "importer_job_outbox", ImportJobRequested, routing_key="job")
# The end of each job and its platform events, written with the job's outcome (services/importer/announcing.py).
EVENT_OUTBOX = OutboxTable(
    "importer.event_outbox",
    "importer_event_outbox",
    ImportJobFinished,
    others=(ImportCompleted, ImportFailed, ProductsCreated, ProductsUpdated),
)
_JOB_COLUMNS = """id, entity, mapper_id, mapper_definition, status, policy, file_name, size_bytes, rows_total,
    rows_done, lines_total, lines_done, imported, updated, failed, attempts, error, requested_by, created_at,
    started_at, finished_at"""


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb columns read and write as Python objects."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def ping(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1")


# Mappers ------------------------------------------------------------------------------------------------------


async def insert_mapper(
    conn: asyncpg.Connection,
    mapper_id: str,
    entity: str,
    name: str,
    definition: dict[str, Any],
    owner: str | None = None,
) -> asyncpg.Record:
    try:
        row = await conn.fetchrow(
            """INSERT INTO importer.mappers (id, entity, name, definition, owner) VALUES ($1, $2, $3, $4, $5)
               RETURNING *""",
            mapper_id,
            entity,
            name,
            definition,
            owner,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"A mapper with id {mapper_id!r} already exists", target="id") from None
    assert row is not None
    return row


async def insert_mapper_if_missing(
    conn: asyncpg.Connection, mapper_id: str, entity: str, name: str, definition: dict[str, Any]
) -> bool:
    status = await conn.execute(
        """INSERT INTO importer.mappers (id, entity, name, definition) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO NOTHING""",
        mapper_id,
        entity,
        name,
        definition,
    )
    return status.endswith(" 1")


async def get_mapper(conn: asyncpg.Connection, mapper_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM importer.mappers WHERE id = $1", mapper_id)


async def list_mappers(conn: asyncpg.Connection, entity: str | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM importer.mappers WHERE ($1::text IS NULL OR entity = $1) ORDER BY id LIMIT $2",
        entity,
        limit,
    )


async def update_mapper(
    conn: asyncpg.Connection, mapper_id: str, entity: str, name: str, definition: dict[str, Any]
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE importer.mappers SET entity = $2, name = $3, definition = $4, updated_at = now()
           WHERE id = $1 RETURNING *""",
        mapper_id,
        entity,
        name,
        definition,
    )


async def delete_mapper(conn: asyncpg.Connection, mapper_id: str) -> bool:
    status = await conn.execute("DELETE FROM importer.mappers WHERE id = $1", mapper_id)
    return status == "DELETE 1"


# Uploads and jobs ---------------------------------------------------------------------------------------------


async def insert_chunk(conn: asyncpg.Connection, job_id: uuid.UUID, seq: int, data: bytes) -> None:
    await conn.execute("INSERT INTO importer.upload_chunks (job_id, seq, data) VALUES ($1, $2, $3)", job_id, seq, data)


async def insert_job(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    job_id: uuid.UUID,
    entity: str,
    mapper_id: str,
    definition: dict[str, Any],
    policy: str,
    file_name: str,
    size_bytes: int,
    requested_by: str,
    lines_total: int | None = None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""INSERT INTO importer.jobs (id, entity, mapper_id, mapper_definition, policy, file_name, size_bytes,
                                       requested_by, lines_total, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp()) RETURNING {_JOB_COLUMNS}""",
        job_id,
        entity,
        mapper_id,
        definition,
        policy,
        file_name,
        size_bytes,
        requested_by,
        lines_total,
    )
    assert row is not None
    return row


async def get_job(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_JOB_COLUMNS} FROM importer.jobs WHERE id = $1", job_id)


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a list shows; None means any."""

    requested_by: str | None = None
    status: str | None = None
    entity: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_jobs(conn: asyncpg.Connection, where: JobFilter, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_JOB_COLUMNS} FROM importer.jobs
            WHERE ($1::text IS NULL OR requested_by = $1) AND ($2::text IS NULL OR status = $2)
              AND ($3::text IS NULL OR entity = $3) AND ($4::timestamptz IS NULL OR created_at >= $4)
              AND ($5::timestamptz IS NULL OR created_at < $5)
            ORDER BY created_at DESC, id LIMIT $6""",
        where.requested_by,
        where.status,
        where.entity,
        where.since,
        where.until,
        limit,
    )


async def job_errors(conn: asyncpg.Connection, job_id: uuid.UUID, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT row_no, "column", value, message FROM importer.row_errors WHERE job_id = $1
           ORDER BY ord LIMIT $2""",
        job_id,
        limit,
    )


async def cancel_job(conn: asyncpg.Connection, job_id: uuid.UUID) -> bool:
    status = await conn.execute(
        """UPDATE importer.jobs SET status = 'cancelled', finished_at = clock_timestamp(),
               error = 'cancelled by the user'
           WHERE id = $1 AND status IN ('queued', 'running')""",
        job_id,
    )
    return status == "UPDATE 1"


async def fail_job(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID, error: str) -> bool:
    """Mark a job failed from outside its worker (not queued after all, dead-lettered)."""
    status = await conn.execute(
        """UPDATE importer.jobs SET status = 'failed', finished_at = clock_timestamp(), error = $2
           WHERE id = $1 AND status IN ('queued', 'running')""",
        job_id,
        error,
    )
    return status == "UPDATE 1"


# The worker's side --------------------------------------------------------------------------------------------


async def lock_job(conn: asyncpg.Connection, job_id: uuid.UUID) -> None:
    """Held until the job's transaction ends: a duplicate delivery waits, then finds the job done."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", int.from_bytes(job_id.bytes[:8], "big", signed=True))


async def mark_running(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID) -> bool:
    status = await conn.execute(
        """UPDATE importer.jobs SET status = 'running', started_at = coalesce(started_at, clock_timestamp()),
               attempts = attempts + 1, rows_done = 0, lines_done = 0
           WHERE id = $1 AND status IN ('queued', 'running')""",
        job_id,
    )
    return status == "UPDATE 1"


async def job_status(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID) -> str | None:
    return await conn.fetchval("SELECT status FROM importer.jobs WHERE id = $1", job_id)


async def record_progress(
    conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID, rows_done: int, lines_done: int
) -> bool:
    """False when the job is no longer running (cancelled meanwhile)."""
    status = await conn.execute(
        "UPDATE importer.jobs SET rows_done = $2, lines_done = $3 WHERE id = $1 AND status = 'running'",
        job_id,
        rows_done,
        lines_done,
    )
    return status == "UPDATE 1"


async def upload_chunks(pool: asyncpg.Pool, job_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The upload, chunk by chunk (a cursor holds two chunks at most), read on a connection of its own so that the
    job's connection is free to write the previous batch meanwhile. Close it (contextlib.aclosing) when done."""
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        async for row in conn.cursor(
            "SELECT data FROM importer.upload_chunks WHERE job_id = $1 ORDER BY seq", job_id, prefetch=2
        ):
            yield row["data"]


async def insert_row_errors(
    conn: asyncpg.Connection, job_id: uuid.UUID, errors: Sequence[tuple[int, str | None, str | None, str]]
) -> None:
    await conn.copy_records_to_table(
        "row_errors",
        schema_name=SCHEMA,
        columns=["job_id", "ord", "row_no", "column", "value", "message"],
        records=[(job_id, ord_, *error) for ord_, error in enumerate(errors)],
    )


async def finish_job(
    conn: asyncpg.Connection,
    job_id: uuid.UUID,
    *,
    status: str,
    rows_total: int,
    imported: int,
    updated: int,
    failed: int,
    error: str | None,
) -> bool:
    """Write the job's outcome; False when it was cancelled meanwhile (the caller then rolls back)."""
    result = await conn.execute(
        """UPDATE importer.jobs SET status = $2, rows_total = $3, rows_done = $3, imported = $4, updated = $5,
               failed = $6, error = $7, finished_at = clock_timestamp()
           WHERE id = $1 AND status = 'running'""",
        job_id,
        status,
        rows_total,
        imported,
        updated,
        failed,
        error,
    )
    if result != "UPDATE 1":
        return False
    # The bytes served their purpose; keeping them would only grow the database.
    await conn.execute("DELETE FROM importer.upload_chunks WHERE job_id = $1", job_id)
    return True
