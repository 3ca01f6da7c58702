"""Running one import job, start to end, in one PostgreSQL transaction: the upload read in batches, each planned
(services/importer/planning.py) and written (services/importer/writing.py) while the next is parsed.

The catalog rows, the row errors, the job's outcome and its announcement (services/importer/announcing.py) commit
together, and the RabbitMQ message is acknowledged only afterwards. So a worker killed mid-job leaves nothing
behind: the redelivered message runs the job again from its stored upload and ends with exactly the right rows and
counts; a delivery of a job already finished changes nothing. An advisory lock on the job id makes a second delivery
wait for the first instead of racing it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

import asyncpg

from services.importer import db, staging
from services.importer.announcing import announce
from services.importer.csvstream import CsvFormatError, Record, read_records
from services.importer.entities import ImportEntity, import_entity
from services.importer.mappers import InvalidMapper, MapperDefinition, parse_definition
from services.importer.planning import JobFailed, Layout, RowErrors, convert_record, plan_layout
from services.importer.writing import CatalogWriter

log = logging.getLogger(__name__)

Progress = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class JobOutcome:
    job_id: uuid.UUID
    status: str
    imported: int
    updated: int
    failed: int
    error: str | None = None
    entity: str = ""
    requested_by: str = ""
    # The ids of the products this run created and updated (empty for other entities and for a job found finished):
    # what the run announces, not part of the job's result.
    created_ids: Sequence[int] = field(default=(), compare=False, repr=False)
    updated_ids: Sequence[int] = field(default=(), compare=False, repr=False)


class JobCancelled(Exception):
    pass


async def run_job(pool: asyncpg.Pool, job_id: uuid.UUID, *, batch_rows: int, progress: Progress) -> JobOutcome | None:
    """Process one job; None when no such job exists. Transient faults (connection lost) propagate."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                # A large file legitimately runs longer than the pool's per-statement bound.
                await conn.execute("SET LOCAL statement_timeout = 0")
                await db.lock_job(conn, job_id)
                job = await db.get_job(conn, job_id)
                if job is None:
                    return None
                if job["status"] in db.TERMINAL:
                    return _outcome(job)
                await db.mark_running(pool, job_id)
                return await _import(conn, pool, job, batch_rows, progress)
        except JobFailed as failure:
            return await _record_failure(conn, job_id, str(failure), failure.errors)
        except JobCancelled:
            log.info("import job %s was cancelled", job_id)
            job = await db.get_job(conn, job_id)
            return _outcome(job) if job else None


def _outcome(job: asyncpg.Record) -> JobOutcome:
    return JobOutcome(
        job["id"],
        job["status"],
        job["imported"],
        job["updated"],
        job["failed"],
        job["error"],
        entity=job["entity"],
        requested_by=job["requested_by"],
    )


async def _record_failure(
    conn: asyncpg.Connection, job_id: uuid.UUID, message: str, errors: RowErrors | None
) -> JobOutcome:
    async with conn.transaction():
        await db.lock_job(conn, job_id)
        failed = errors.total if errors else 0
        if errors and errors.kept:
            await conn.execute("DELETE FROM importer.row_errors WHERE job_id = $1", job_id)
            await db.insert_row_errors(conn, job_id, errors.kept)
        finished = await db.finish_job(
            conn, job_id, status="failed", rows_total=0, imported=0, updated=0, failed=failed, error=message
        )
        job = await db.get_job(conn, job_id)
        assert job is not None
        if finished:
            await announce(conn, _outcome(job))
    return _outcome(job)


def _job_definition(job: asyncpg.Record) -> tuple[ImportEntity, MapperDefinition]:
    """The job's entity and its mapper as stored with the job; a job whose mapper no longer holds fails whole."""
    entity = import_entity(job["entity"])
    if entity is None:
        raise JobFailed(f"unknown entity {job['entity']!r}")
    try:
        return entity, parse_definition(entity, job["mapper_definition"])
    except InvalidMapper as error:
        raise JobFailed(f"the mapper is invalid: {error.message}") from None


def _header_layout(definition: MapperDefinition, batch: list[Record]) -> tuple[Layout, list[Record]]:
    """The layout the first batch's header row gives, and that batch's data rows."""
    header, rows = batch[0], batch[1:]
    if header.cells is None:
        raise JobFailed(f"the header row is not valid CSV: {header.problem}")
    return plan_layout(definition, header.cells), rows


async def _open_writer(
    conn: asyncpg.Connection,
    entity: ImportEntity,
    definition: MapperDefinition,
    layout: Layout,
    errors: RowErrors,
    all_or_nothing: bool,
) -> CatalogWriter:
    await staging.create_stage(conn, layout.fields)
    writer = CatalogWriter(conn, entity, list(layout.fields), definition.key, errors, all_or_nothing)
    if definition.update_only:
        writer.update_only(next(rule.label for rule in definition.columns if rule.field.name == definition.key))
    return writer


async def _import(
    conn: asyncpg.Connection, pool: asyncpg.Pool, job: asyncpg.Record, batch_rows: int, progress: Progress
) -> JobOutcome:
    job_id: uuid.UUID = job["id"]
    entity, definition = _job_definition(job)
    errors = RowErrors()
    all_or_nothing = job["policy"] == "all_or_nothing"
    layout = None if definition.header else plan_layout(definition, None)
    writer: CatalogWriter | None = None
    rows_total = 0
    try:
        async with (
            aclosing(db.upload_chunks(pool, job_id)) as chunks,
            aclosing(
                read_records(
                    chunks,
                    encoding=definition.encoding,
                    delimiter=definition.delimiter,
                    quote=definition.quote,
                    batch_rows=batch_rows,
                )
            ) as batches,
        ):
            async for batch in batches:
                lines_done = batch[-1].line
                if layout is None:
                    layout, batch = _header_layout(definition, batch)
                if writer is None:
                    writer = await _open_writer(conn, entity, definition, layout, errors, all_or_nothing)
                # Parsed and converted while PostgreSQL still writes the previous batch.
                rows = [row for record in batch if (row := convert_record(layout, record, errors)) is not None]
                rows_total += len(batch)
                if not (all_or_nothing and errors.total):  # once a row failed, all-or-nothing writes nothing
                    await writer.write(rows)
                await _between_batches(pool, job_id, rows_total, lines_done, progress)
            if writer is not None:
                await writer.drain()
    except CsvFormatError as error:
        raise JobFailed(str(error)) from None
    finally:
        if writer is not None:
            await writer.abandon()
    if layout is None:
        raise JobFailed("the file is empty: there is no header row")
    if errors.total and all_or_nothing:
        raise JobFailed(f"{errors.total} rows were rejected; nothing was imported (policy all_or_nothing)", errors)
    return await _complete(conn, job, errors, rows_total, writer)


async def _between_batches(
    pool: asyncpg.Pool, job_id: uuid.UUID, rows_done: int, lines_done: int, progress: Progress
) -> None:
    # Outside the job's transaction, so readers see progress and the worker sees a cancellation at once.
    if not await db.record_progress(pool, job_id, rows_done, lines_done):
        raise JobCancelled()
    await progress(rows_done)


async def _complete(
    conn: asyncpg.Connection, job: asyncpg.Record, errors: RowErrors, rows_total: int, writer: CatalogWriter | None
) -> JobOutcome:
    job_id: uuid.UUID = job["id"]
    inserted, updated = (writer.inserted, writer.updated) if writer is not None else (0, 0)
    if errors.kept:
        # Rows the database refused are found after the others; readers expect file order.
        await db.insert_row_errors(conn, job_id, sorted(errors.kept, key=lambda error: error[0]))
    finished = await db.finish_job(
        conn,
        job_id,
        status="completed",
        rows_total=rows_total,
        imported=inserted,
        updated=updated,
        failed=errors.total,
        error=None,
    )
    if not finished:
        raise JobCancelled()
    outcome = JobOutcome(
        job_id,
        "completed",
        inserted,
        updated,
        errors.total,
        entity=job["entity"],
        requested_by=job["requested_by"],
        created_ids=writer.created_ids if writer is not None else (),
        updated_ids=writer.updated_ids if writer is not None else (),
    )
    await announce(conn, outcome)
    return outcome
