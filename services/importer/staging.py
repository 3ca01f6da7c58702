"""Writing converted rows into a catalog table, a batch at a time.

Rows with new keys are COPYed straight into the table; rows whose key exists go through a temporary staging table
(COPY) and one UPDATE. A batch that breaks a database rule is staged whole and redone row by row (upsert_one).

All SQL identifiers come from the entity model (services/importer/entities.py), never from a mapper or a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from services.importer.entities import ImportEntity, ImportField

STAGE = "import_stage"


def _quoted(name: str) -> str:
    return f'"{name}"'


async def create_stage(conn: asyncpg.Connection, fields: Sequence[ImportField]) -> None:
    columns = ", ".join(f"{_quoted(field.name)} {field.sql_type}" for field in fields)
    # Dropped with the job's transaction: a rolled-back attempt leaves nothing behind.
    await conn.execute(f"CREATE TEMPORARY TABLE {STAGE} (row_no bigint PRIMARY KEY, {columns}) ON COMMIT DROP")


async def copy_to_stage(conn: asyncpg.Connection, fields: Sequence[ImportField], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        await conn.copy_records_to_table(STAGE, columns=["row_no", *(f.name for f in fields)], records=rows)


def _insert_sql(entity: ImportEntity, fields: Sequence[ImportField], key: str | None, source: str) -> str:
    names = [field.name for field in fields]
    columns = ", ".join(_quoted(name) for name in names)
    if key is None:
        return f"INSERT INTO {entity.table} ({columns}) SELECT {columns} FROM {source}"
    assignments = [f"{_quoted(name)} = EXCLUDED.{_quoted(name)}" for name in names if name != key]
    if entity.has_updated_at:
        assignments.append('"updated_at" = now()')
    if not assignments:
        assignments.append(f"{_quoted(key)} = EXCLUDED.{_quoted(key)}")
    return (
        f"INSERT INTO {entity.table} ({columns}) SELECT {columns} FROM {source} "
        f"ON CONFLICT ({_quoted(key)}) DO UPDATE SET {', '.join(assignments)} RETURNING (xmax = 0) AS inserted"
    )


async def existing_keys(
    conn: asyncpg.Connection, entity: ImportEntity, key: ImportField, values: list[Any]
) -> set[Any]:
    """Which of these key values the catalog table already holds."""
    column = _quoted(key.name)
    rows = await conn.fetch(
        f"SELECT {column} AS key FROM {entity.table} WHERE {column} = ANY($1::{key.sql_type}[])", values
    )
    return {row["key"] for row in rows}


async def insert_rows(
    conn: asyncpg.Connection, entity: ImportEntity, fields: Sequence[ImportField], rows: list[tuple[Any, ...]]
) -> None:
    """COPY new rows (without their row number) straight into the catalog table: PostgreSQL's fastest insert path.
    A key that another writer inserted meanwhile breaks the unique index, and the caller redoes the batch."""
    await conn.copy_records_to_table(
        entity.table_name,
        schema_name=entity.schema_name,
        columns=[field.name for field in fields],
        records=[row[1:] for row in rows],
    )


async def update_from_stage(
    conn: asyncpg.Connection, entity: ImportEntity, fields: Sequence[ImportField], key: str
) -> None:
    """Apply every staged row (one per key) to the catalog row with its key."""
    assignments = [f"{_quoted(field.name)} = s.{_quoted(field.name)}" for field in fields if field.name != key]
    if entity.has_updated_at:
        assignments.append('"updated_at" = now()')
    if assignments:
        await conn.execute(
            f"UPDATE {entity.table} AS t SET {', '.join(assignments)} FROM {STAGE} AS s "
            f"WHERE t.{_quoted(key)} = s.{_quoted(key)}"
        )


async def clear_stage(conn: asyncpg.Connection) -> None:
    """Empty the stage for the next batch (a table created in this transaction is truncated in place)."""
    await conn.execute(f"TRUNCATE {STAGE}")


async def staged_row_numbers(conn: asyncpg.Connection, after: int, limit: int) -> list[int]:
    rows = await conn.fetch(f"SELECT row_no FROM {STAGE} WHERE row_no > $1 ORDER BY row_no LIMIT $2", after, limit)
    return [row["row_no"] for row in rows]


async def upsert_one(
    conn: asyncpg.Connection, entity: ImportEntity, fields: Sequence[ImportField], key: str | None, row_no: int
) -> bool:
    """Move one staged row; True when it was inserted, False when it updated an existing row."""
    source = f"{STAGE} WHERE row_no = {int(row_no)}"
    if key is None:
        await conn.execute(_insert_sql(entity, fields, None, source))
        return True
    return bool(await conn.fetchval(_insert_sql(entity, fields, key, source)))


async def update_one(
    conn: asyncpg.Connection, entity: ImportEntity, fields: Sequence[ImportField], key: str, row_no: int
) -> bool:
    """Apply one staged row to the catalog row with its key; False when no row has that key."""
    assignments = [f"{_quoted(field.name)} = s.{_quoted(field.name)}" for field in fields if field.name != key]
    if entity.has_updated_at:
        assignments.append('"updated_at" = now()')
    if not assignments:
        assignments.append(f"{_quoted(key)} = s.{_quoted(key)}")
    status = await conn.execute(
        f"UPDATE {entity.table} AS t SET {', '.join(assignments)} FROM {STAGE} AS s "
        f"WHERE t.{_quoted(key)} = s.{_quoted(key)} AND s.row_no = $1",
        row_no,
    )
    return status == "UPDATE 1"
