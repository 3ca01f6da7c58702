"""Waiting in tests for something observable to happen, instead of sleeping and hoping it had time to."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]], *, timeout: float = 5.0, interval: float = 0.02, what: str = "the condition"
) -> T:
    """The first truthy value `check` (a function or a coroutine function) returns, asked every `interval` seconds;
    an AssertionError naming `what` once `timeout` seconds have passed without one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(interval)
