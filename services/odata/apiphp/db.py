"""The SQL of the api.php write methods and of the tables the OData model does not expose (SKUs, images).

Every statement is parameterized; the only identifiers are the constants below and column names taken from
the whitelists in services/odata/apiphp/writes.py. Database errors a valid request can still provoke become the
api.php errors a Webasyst client expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from services.odata.apiphp.errors import InvalidParam
from services.odata.reading import json_value
from shared.catalog import SCHEMA

PRODUCTS = f'"{SCHEMA}".products'
SKUS = f'"{SCHEMA}".product_skus'
IMAGES = f'"{SCHEMA}".product_images'
ORDERS = f'"{SCHEMA}".orders'
SKU_COLUMNS = "id, product_id, sku, name, price, stock, available, sort"
IMAGE_COLUMNS = (
    "id, product_id, content_type, width, height, octet_length(content) AS size, original_filename, "
    "description, sort, upload_datetime"
)


def _row(record: asyncpg.Record) -> dict[str, object]:
    return {name: json_value(value) for name, value in record.items()}


def _translated(error: asyncpg.PostgresError) -> InvalidParam:
    if isinstance(error, asyncpg.UniqueViolationError):
        return InvalidParam("A product with this SKU code already exists.")
    if isinstance(error, asyncpg.ForeignKeyViolationError):
        return InvalidParam("A referenced record does not exist, or the record is still referenced (e.g. by orders).")
    return InvalidParam(f"The values cannot be stored ({type(error).__name__.removesuffix('Error')}).")


async def insert_product(conn: asyncpg.Connection, values: Mapping[str, object]) -> int:
    columns = list(values)
    placeholders = ", ".join(f"${index}" for index in range(1, len(columns) + 1))
    sql = f"INSERT INTO {PRODUCTS} ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id"
    try:
        return int(await conn.fetchval(sql, *values.values()))
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
        raise _translated(error) from None


async def update_product(conn: asyncpg.Connection, product_id: int, values: Mapping[str, object]) -> bool:
    assignments = ", ".join(f"{column} = ${index}" for index, column in enumerate(values, start=2))
    sql = f"UPDATE {PRODUCTS} SET {assignments}, updated_at = now() WHERE id = $1"
    try:
        return await conn.execute(sql, product_id, *values.values()) == "UPDATE 1"
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
        raise _translated(error) from None


async def delete_products(conn: asyncpg.Connection, ids: Sequence[int]) -> list[int]:
    try:
        rows = await conn.fetch(f"DELETE FROM {PRODUCTS} WHERE id = ANY($1::bigint[]) RETURNING id", list(ids))
    except asyncpg.ForeignKeyViolationError:
        raise InvalidParam("A product that appears in orders cannot be deleted; set status=0 instead.") from None
    return sorted(int(row["id"]) for row in rows)


async def product_exists(conn: asyncpg.Connection, product_id: int, *, lock: bool = False) -> bool:
    suffix = " FOR UPDATE" if lock else ""
    return await conn.fetchval(f"SELECT true FROM {PRODUCTS} WHERE id = $1{suffix}", product_id) is not None


async def replace_skus(conn: asyncpg.Connection, product_id: int, skus: Sequence[Mapping[str, object]]) -> None:
    await conn.execute(f"DELETE FROM {SKUS} WHERE product_id = $1", product_id)
    for sort, sku in enumerate(skus):
        try:
            await conn.execute(
                f"INSERT INTO {SKUS} (product_id, sku, name, price, stock, available, sort) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                product_id,
                sku["sku"],
                sku["name"],
                sku["price"],
                sku["stock"],
                sku["available"],
                sort,
            )
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
            raise _translated(error) from None


async def list_skus(conn: asyncpg.Connection, product_id: int) -> list[dict[str, object]]:
    rows = await conn.fetch(f"SELECT {SKU_COLUMNS} FROM {SKUS} WHERE product_id = $1 ORDER BY sort, id", product_id)
    return [_row(row) for row in rows]


async def insert_image(
    conn: asyncpg.Connection,
    product_id: int,
    content: bytes,
    content_type: str,
    size: tuple[int, int],
    original_filename: str,
    description: str,
) -> dict[str, object]:
    row = await conn.fetchrow(
        f"""INSERT INTO {IMAGES} (product_id, content, content_type, width, height, original_filename, description,
                                  sort)
            VALUES ($1, $2, $3, $4, $5, $6, $7,
                    (SELECT coalesce(max(sort) + 1, 0) FROM {IMAGES} WHERE product_id = $1))
            RETURNING {IMAGE_COLUMNS}""",
        product_id,
        content,
        content_type,
        size[0],
        size[1],
        original_filename,
        description,
    )
    return _row(row)


async def list_images(conn: asyncpg.Connection, product_id: int, limit: int) -> list[dict[str, object]]:
    rows = await conn.fetch(
        f"SELECT {IMAGE_COLUMNS} FROM {IMAGES} WHERE product_id = $1 ORDER BY sort, id LIMIT $2", product_id, limit
    )
    return [_row(row) for row in rows]


async def count_images(conn: asyncpg.Connection, product_id: int) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {IMAGES} WHERE product_id = $1", product_id))


async def order_status(conn: asyncpg.Connection, order_id: int) -> str | None:
    return await conn.fetchval(f"SELECT status FROM {ORDERS} WHERE id = $1 FOR UPDATE", order_id)


async def set_order_status(conn: asyncpg.Connection, order_id: int, status: str) -> None:
    await conn.execute(f"UPDATE {ORDERS} SET status = $2, updated_at = now() WHERE id = $1", order_id, status)
