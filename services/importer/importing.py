"""One import job, start to end, in one PostgreSQL transaction.

The catalog rows, the row errors and the job's outcome commit together, and the RabbitMQ message is acknowledged
only afterwards. So a worker killed mid-job leaves nothing behind: the redelivered message runs the job again from
its stored upload and ends with exactly the right rows and counts; a delivery of a job already finished changes
nothing. An advisory lock on the job id makes a second delivery wait for the first instead of racing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction

from services.importer import db, staging
from services.importer.conversions import CellConverter, ConversionError, compile_rule
from services.importer.csvstream import CsvFormatError, Record, read_records
from services.importer.entities import ImportEntity, ImportField, import_entity
from services.importer.mappers import ColumnRule, InvalidMapper, MapperDefinition, parse_definition

log = logging.getLogger(__name__)

KEPT_ERRORS = 1000
MAX_ERROR_VALUE = 200
MAX_HEADER_COLUMNS = 1000
ROW_BY_ROW_PAGE = 1000

Progress = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class JobOutcome:
    job_id: uuid.UUID
    status: str
    imported: int
    updated: int
    failed: int
    error: str | None = None


class JobFailed(Exception):
    """The job as a whole cannot be imported; nothing of it is written to the catalog."""

    def __init__(self, message: str, errors: RowErrors | None = None) -> None:
        super().__init__(message)
        self.errors = errors


class JobCancelled(Exception):
    pass


class RowErrors:
    """The first KEPT_ERRORS row errors, and how many rows failed in all."""

    def __init__(self) -> None:
        self.kept: list[tuple[int, str | None, str | None, str]] = []
        self.total = 0

    def add(self, row: int, column: str | None, value: str | None, message: str) -> None:
        self.total += 1
        if len(self.kept) < KEPT_ERRORS:
            if value is not None and len(value) > MAX_ERROR_VALUE:
                value = value[:MAX_ERROR_VALUE] + "…"
            self.kept.append((row, column, value, message))


@dataclass(frozen=True)
class Layout:
    """Where each mapped column is in the file's rows; rules whose column is absent are left out."""

    rules: tuple[tuple[ColumnRule, int | None], ...]  # (rule, 0-based cell index or None: use the default)
    width: int | None  # the header's column count

    @property
    def fields(self) -> tuple[ImportField, ...]:
        return tuple(rule.field for rule, _ in self.rules)

    @cached_property
    def converters(self) -> tuple[CellConverter, ...]:
        return tuple(compile_rule(rule) for rule, _ in self.rules)


def plan_layout(definition: MapperDefinition, header: list[str] | None) -> Layout:
    if header is None:
        return Layout(rules=tuple((rule, int(rule.column) - 1) for rule in definition.columns), width=None)
    if len(header) > MAX_HEADER_COLUMNS:
        raise JobFailed(f"the header row has {len(header)} columns; at most {MAX_HEADER_COLUMNS} are accepted")
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    placed: list[tuple[ColumnRule, int | None]] = []
    missing: list[str] = []
    for rule in definition.columns:
        name = str(rule.column).lower()
        if name in names:
            placed.append((rule, names.index(name)))
        elif rule.default is not None:
            placed.append((rule, None))
        elif (
            rule.required
            or rule.field.name == definition.key
            or (rule.field.required and not definition.update_only)  # an update keeps the row's other fields
        ):
            missing.append(str(rule.column))
    if not any(index is not None for _, index in placed):
        expected = ", ".join(str(rule.column) for rule in definition.columns)
        raise JobFailed(f"the header row has none of the mapped columns (expected some of: {expected})")
    if missing:
        raise JobFailed(f"the header row lacks the required columns: {', '.join(missing)}")
    return Layout(rules=tuple(placed), width=len(header))


def convert_record(layout: Layout, record: Record, errors: RowErrors) -> tuple[Any, ...] | None:
    """The staged row (row number first), or None after recording why the row is rejected."""
    if record.cells is None:
        errors.add(record.line, None, None, record.problem or "not valid CSV")
        return None
    cells = record.cells
    if layout.width is not None and len(cells) != layout.width:
        errors.add(record.line, None, None, f"the row has {len(cells)} fields, the header has {layout.width}")
        return None
    values: list[Any] = [record.line]
    for (rule, index), convert in zip(layout.rules, layout.converters, strict=True):
        raw = cells[index] if index is not None and index < len(cells) else None
        try:
            values.append(convert(raw))
        except ConversionError as error:
            errors.add(record.line, rule.label, raw, f"{rule.field.name}: {error}")
            return None
    return tuple(values)


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
    return JobOutcome(job["id"], job["status"], job["imported"], job["updated"], job["failed"], job["error"])


async def _record_failure(
    conn: asyncpg.Connection, job_id: uuid.UUID, message: str, errors: RowErrors | None
) -> JobOutcome:
    async with conn.transaction():
        await db.lock_job(conn, job_id)
        failed = errors.total if errors else 0
        if errors and errors.kept:
            await conn.execute("DELETE FROM importer.row_errors WHERE job_id = $1", job_id)
            await db.insert_row_errors(conn, job_id, errors.kept)
        await db.finish_job(
            conn, job_id, status="failed", rows_total=0, imported=0, updated=0, failed=failed, error=message
        )
    job = await db.get_job(conn, job_id)
    assert job is not None
    return _outcome(job)


async def _import(
    conn: asyncpg.Connection, pool: asyncpg.Pool, job: asyncpg.Record, batch_rows: int, progress: Progress
) -> JobOutcome:
    job_id: uuid.UUID = job["id"]
    entity = import_entity(job["entity"])
    if entity is None:
        raise JobFailed(f"unknown entity {job['entity']!r}")
    try:
        definition = parse_definition(entity, job["mapper_definition"])
    except InvalidMapper as error:
        raise JobFailed(f"the mapper is invalid: {error.message}") from None
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
                    header, batch = batch[0], batch[1:]
                    if header.cells is None:
                        raise JobFailed(f"the header row is not valid CSV: {header.problem}")
                    layout = plan_layout(definition, header.cells)
                if writer is None:
                    await staging.create_stage(conn, layout.fields)
                    writer = CatalogWriter(conn, entity, list(layout.fields), definition.key, errors, all_or_nothing)
                    if definition.update_only:
                        writer.update_only(
                            next(rule.label for rule in definition.columns if rule.field.name == definition.key)
                        )
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
    if writer is None:
        return await _complete(conn, job_id, errors, rows_total, 0, 0)
    return await _complete(conn, job_id, errors, rows_total, writer.inserted, writer.updated)


async def _between_batches(
    pool: asyncpg.Pool, job_id: uuid.UUID, rows_done: int, lines_done: int, progress: Progress
) -> None:
    # Outside the job's transaction, so readers see progress and the worker sees a cancellation at once.
    if not await db.record_progress(pool, job_id, rows_done, lines_done):
        raise JobCancelled()
    await progress(rows_done)


class CatalogWriter:
    """Writes each batch into the catalog table while the caller parses the next one.

    PostgreSQL's work (inserts, indexes) and Python's (parsing, conversion) then overlap instead of adding up.
    Within a batch a key given twice counts once, with its last row (the earlier rows count as updates); rows with
    new keys are COPYed straight into the table and rows with existing keys update theirs. The batch runs behind a
    savepoint: when some row breaks a database rule (a check, a reference, a key inserted meanwhile) the batch is
    redone row by row to find it. All of it stays inside the job's one transaction.
    """

    def __init__(
        self,
        conn: asyncpg.Connection,
        entity: ImportEntity,
        fields: list[ImportField],
        key: str | None,
        errors: RowErrors,
        all_or_nothing: bool,
    ) -> None:
        self.conn = conn
        self.entity = entity
        self.fields = fields
        self.key = key
        self.key_field = next((field for field in fields if field.name == key), None)
        self.key_at = 1 + fields.index(self.key_field) if self.key_field is not None else 0  # after row_no
        self.errors = errors
        self.all_or_nothing = all_or_nothing
        self.inserted = 0
        self.updated = 0
        self._pending: asyncio.Task[None] | None = None
        self._update_only_column: str | None = None

    def update_only(self, key_column: str) -> None:
        """Reject rows whose key is not in the catalog (naming the key's CSV column) instead of inserting them."""
        self._update_only_column = key_column

    async def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Start writing the rows; returns while PostgreSQL works (the connection stays busy until drain)."""
        await self.drain()
        if not rows:
            return
        if self.key_field is None:
            new, changed = rows, []
        else:
            latest = {row[self.key_at]: row for row in rows}
            existing = await staging.existing_keys(self.conn, self.entity, self.key_field, list(latest))
            new = [row for value, row in latest.items() if value not in existing]
            changed = [row for value, row in latest.items() if value in existing]
            if self._update_only_column is not None:
                rows = [row for row in rows if row[self.key_at] in existing]
                for row in new:
                    self._reject_missing(row[0], row[self.key_at])
                new = []
        savepoint = self.conn.transaction()
        await savepoint.start()
        self._pending = asyncio.create_task(self._write(savepoint, rows, new, changed))
        await asyncio.sleep(0)  # the task sends its statement now, before the caller's parsing holds the loop

    async def drain(self) -> None:
        """Wait for the batch in progress; its errors (JobFailed, lost connection) surface here."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending

    async def abandon(self) -> None:
        """On the way out after a failure: stop the batch in progress before the transaction rolls back."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending

    async def _write(
        self,
        savepoint: Transaction,
        rows: list[tuple[Any, ...]],
        new: list[tuple[Any, ...]],
        changed: list[tuple[Any, ...]],
    ) -> None:
        try:
            if new:
                await staging.insert_rows(self.conn, self.entity, self.fields, new)
            if changed and self.key is not None:
                await staging.copy_to_stage(self.conn, self.fields, changed)
                await staging.update_from_stage(self.conn, self.entity, self.fields, self.key)
                await staging.clear_stage(self.conn)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError):
            await savepoint.rollback()
            await staging.copy_to_stage(self.conn, self.fields, rows)
            inserted, updated = await self._row_by_row()
            await staging.clear_stage(self.conn)
        else:
            await savepoint.commit()
            inserted, updated = len(new), len(rows) - len(new)
        self.inserted += inserted
        self.updated += updated

    def _reject_missing(self, row_no: int, key_value: Any) -> None:
        value = None if key_value is None else str(key_value)
        self.errors.add(
            row_no, self._update_only_column, value, f"no {self.entity.name} with this {self.key} to update"
        )

    async def _row_by_row(self) -> tuple[int, int]:
        inserted = updated = 0
        after = 0
        while row_numbers := await staging.staged_row_numbers(self.conn, after, ROW_BY_ROW_PAGE):
            for row_no in row_numbers:
                try:
                    async with self.conn.transaction():
                        if self._update_only_column is not None and self.key is not None:
                            if await staging.update_one(self.conn, self.entity, self.fields, self.key, row_no):
                                updated += 1
                            else:
                                self._reject_missing(row_no, None)
                        elif await staging.upsert_one(self.conn, self.entity, self.fields, self.key, row_no):
                            inserted += 1
                        else:
                            updated += 1
                except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
                    # The server's message names the rule (constraint) but never the row's values.
                    self.errors.add(row_no, None, None, f"rejected by the database: {error.message}")
                    if self.all_or_nothing:
                        message = f"row {row_no} was rejected; nothing was imported (policy all_or_nothing)"
                        raise JobFailed(message, self.errors) from None
            after = row_numbers[-1]
        return inserted, updated


async def _complete(
    conn: asyncpg.Connection, job_id: uuid.UUID, errors: RowErrors, rows_total: int, inserted: int, updated: int
) -> JobOutcome:
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
    return JobOutcome(job_id, "completed", inserted, updated, errors.total)
