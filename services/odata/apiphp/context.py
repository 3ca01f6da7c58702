"""What a method runs with, and how it is registered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.odata.apiphp.params import MethodParams

MAX_ID = 2**63 - 1
READ_HTTP_METHODS = frozenset({"GET", "POST"})
WRITE_HTTP_METHODS = frozenset({"POST"})


@dataclass(frozen=True)
class MethodContext:
    conn: asyncpg.Connection
    params: MethodParams
    max_limit: int


Method = Callable[[MethodContext], Awaitable[Any]]


@dataclass(frozen=True)
class ApiMethod:
    """One api.php method: calling it needs `<resource>:<action>` and one of `http_methods` (waAPIMethod's
    $method; reads also take POST, as seed 000 sends the token as a POST field)."""

    app: str
    name: str
    resource: str
    action: str
    run: Method
    http_methods: frozenset[str] = READ_HTTP_METHODS
