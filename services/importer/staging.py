"""Writing converted rows: COPY into a temporary staging table, then one upsert into the catalog table.

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


async def upsert_stage(
    conn: asyncpg.Connection, entity: ImportEntity, fields: Sequence[ImportField], key: str | None
) -> tuple[int, int]:
    """Move every staged row into the catalog in one statement; answer (inserted, updated).

    A key given twice in one file is applied once, with its last row; the earlier rows count as updates.
    """
    if key is None:
        status = await conn.execute(_insert_sql(entity, fields, None, f"{STAGE} ORDER BY row_no"))
        return int(status.split()[-1]), 0
    staged = await conn.fetchval(f"SELECT count(*) FROM {STAGE}")
    source = f"(SELECT DISTINCT ON ({_quoted(key)}) * FROM {STAGE} ORDER BY {_quoted(key)}, row_no DESC) AS s"
    row = await conn.fetchrow(
        f"""WITH upserted AS ({_insert_sql(entity, fields, key, source)})
            SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated
            FROM upserted"""
    )
    assert row is not None
    inserted, updated = int(row["inserted"]), int(row["updated"])
    return inserted, updated + (staged - inserted - updated)


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
