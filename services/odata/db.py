"""Running the compiled queries: every statement is parameterized and bounded by statement_timeout; PostgreSQL
errors a query can still provoke with valid input (overflow, bad casts, timeouts) become clear API errors."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from shared.errors import BadRequest, ServiceUnavailable


class QueryNotEvaluable(BadRequest):
    code = "query_not_evaluable"


class QueryTimeout(ServiceUnavailable):
    code = "query_timeout"


async def fetch(conn: asyncpg.Connection, sql: str, params: Sequence[object]) -> list[asyncpg.Record]:
    try:
        return await conn.fetch(sql, *params)
    except asyncpg.QueryCanceledError:
        raise QueryTimeout("The query took longer than this service allows; narrow it with $filter or $top") from None
    except asyncpg.DataError as error:
        reason = type(error).__name__.removesuffix("Error")
        raise QueryNotEvaluable(
            f"The query cannot be evaluated on the stored data ({reason})", target="query"
        ) from None


async def fetch_count(conn: asyncpg.Connection, sql: str, params: Sequence[object]) -> int:
    rows = await fetch(conn, sql, params)
    return int(rows[0][0])


async def ping(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1")
