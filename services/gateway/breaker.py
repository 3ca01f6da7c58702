"""A circuit breaker in front of the auth service's verification.

Closed, every verification goes to the auth service. After `threshold` consecutive failures (timeouts, refused
connections, 5xx answers) it opens: verifications that the cache cannot answer are refused at once with 503 and
Retry-After instead of each waiting VERIFY_TIMEOUT, while one background task probes the auth service every
`probe_interval` seconds; the first probe that succeeds closes the breaker. A wrong credential (401) or a throttle
(429) is an answer, not a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class AuthBreaker:
    def __init__(
        self,
        probe: Callable[[], Awaitable[None]],
        *,
        threshold: int,
        probe_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self.threshold = threshold
        self.probe_interval = probe_interval
        self._clock = clock
        self._failures = 0
        self._next_probe = 0.0
        self._task: asyncio.Task[None] | None = None
        self.is_open = False
        self.opened_total = 0

    def allows(self) -> bool:
        """Whether a verification may go to the auth service now."""
        return not self.is_open

    def retry_after(self) -> int:
        """Seconds a refused client should wait: until the next probe, at least one."""
        return max(1, math.ceil(self._next_probe - self._clock()))

    def record_success(self) -> None:
        self._failures = 0
        if self.is_open:
            self._close()

    def record_failure(self) -> None:
        self._failures += 1
        if not self.is_open and self.threshold > 0 and self._failures >= self.threshold:
            self.is_open = True
            self.opened_total += 1
            self._next_probe = self._clock() + self.probe_interval
            log.warning(
                "the auth service failed %d verifications in a row: refusing unknown credentials at once (503) "
                "and probing it every %.1f s",
                self._failures,
                self.probe_interval,
            )
            self._task = asyncio.create_task(self._probe_until_closed(), name="auth-breaker-probe")

    def _close(self) -> None:
        self.is_open = False
        self._failures = 0
        log.warning("the auth service answers again: verifications go to it again")

    async def _probe_until_closed(self) -> None:
        while self.is_open:
            await asyncio.sleep(max(0.0, self._next_probe - self._clock()))
            try:
                await self._probe()
            except Exception as error:  # any failure of the probe keeps the breaker open
                self._next_probe = self._clock() + self.probe_interval
                log.info("auth probe failed (%s); next in %.1f s", type(error).__name__, self.probe_interval)
                continue
            if self.is_open:
                self._close()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
