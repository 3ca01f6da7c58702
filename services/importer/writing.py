"""Writing an import's staged rows into the catalog, batch by batch, inside the job's one transaction."""

from __future__ import annotations

import asyncio
import contextlib
from array import array
from typing import Any

import asyncpg
from asyncpg.transaction import Transaction

from services.importer import staging
from services.importer.entities import ImportEntity, ImportField
from services.importer.planning import JobFailed, RowErrors

ROW_BY_ROW_PAGE = 1000


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
        # Product ids for the product.created / product.updated events, 8 bytes each (a million rows: 8 MB).
        self.tracks_ids = entity.name == "products" and self.key_field is not None
        self.created_ids: array[int] = array("q")
        self.updated_ids: array[int] = array("q")
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
            if self.tracks_ids:
                await self._track(new, changed)
        self.inserted += inserted
        self.updated += updated

    def _reject_missing(self, row_no: int, key_value: Any) -> None:
        value = None if key_value is None else str(key_value)
        self.errors.add(
            row_no, self._update_only_column, value, f"no {self.entity.name} with this {self.key} to update"
        )

    async def _track(self, new: list[tuple[Any, ...]], changed: list[tuple[Any, ...]]) -> None:
        assert self.key_field is not None
        keys = [row[self.key_at] for row in new] + [row[self.key_at] for row in changed]
        ids = await staging.ids_for_keys(self.conn, self.entity, self.key_field, keys)
        self.created_ids.extend(ids[row[self.key_at]] for row in new if row[self.key_at] in ids)
        self.updated_ids.extend(ids[row[self.key_at]] for row in changed if row[self.key_at] in ids)

    async def _row_by_row(self) -> tuple[int, int]:
        inserted = updated = 0
        after = 0
        while row_numbers := await staging.staged_row_numbers(self.conn, after, ROW_BY_ROW_PAGE):
            for row_no in row_numbers:
                try:
                    async with self.conn.transaction():
                        if self._update_only_column is not None and self.key is not None:
                            found = await staging.update_one(self.conn, self.entity, self.fields, self.key, row_no)
                            was_inserted, row_id = False, None
                        else:
                            found = True
                            was_inserted, row_id = await staging.upsert_one(
                                self.conn, self.entity, self.fields, self.key, row_no
                            )
                    if not found:
                        self._reject_missing(row_no, None)
                    elif was_inserted:
                        inserted += 1
                    else:
                        updated += 1
                    if found and self.tracks_ids and row_id is not None:
                        (self.created_ids if was_inserted else self.updated_ids).append(row_id)
                except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
                    # The server's message names the rule (constraint) but never the row's values.
                    self.errors.add(row_no, None, None, f"rejected by the database: {error.message}")
                    if self.all_or_nothing:
                        message = f"row {row_no} was rejected; nothing was imported (policy all_or_nothing)"
                        raise JobFailed(message, self.errors) from None
            after = row_numbers[-1]
        return inserted, updated
