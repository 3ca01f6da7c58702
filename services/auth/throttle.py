"""Throttling of failed verification attempts, per username and per client address.

Over the limit a caller gets a clear 429 with Retry-After (never a silent lock-out): the window slides, so the
real user can sign in again as soon as the oldest failure in it has aged out.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

DEFAULT_WINDOW_SECONDS = 300.0
DEFAULT_USERNAME_LIMIT = 10
DEFAULT_CLIENT_LIMIT = 50
# Bounded memory whatever an attacker sends: past this many tracked names the expired ones are pruned,
# then the oldest tracked ones are dropped.
MAX_TRACKED = 100_000


class FailedAttemptThrottle:
    def __init__(
        self,
        *,
        username_limit: int = DEFAULT_USERNAME_LIMIT,
        client_limit: int = DEFAULT_CLIENT_LIMIT,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.username_limit = username_limit
        self.client_limit = client_limit
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _keys(self, username: str | None, client_ip: str | None) -> list[tuple[tuple[str, str], int]]:
        keys = []
        if username is not None:
            keys.append((("user", username.lower()), self.username_limit))
        if client_ip is not None:
            keys.append((("ip", client_ip), self.client_limit))
        return keys

    def retry_after(self, username: str | None, client_ip: str | None) -> int | None:
        """Seconds until this caller may try again, or None when it may try now."""
        now = self._clock()
        wait = 0.0
        for key, limit in self._keys(username, client_ip):
            failures = self._failures.get(key)
            if failures is None:
                continue
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if len(failures) >= limit:
                wait = max(wait, failures[-limit] + self.window - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record_failure(self, username: str | None, client_ip: str | None) -> None:
        now = self._clock()
        if len(self._failures) >= MAX_TRACKED:
            self.prune()
        for key, limit in self._keys(username, client_ip):
            failures = self._failures.get(key)
            if failures is None:
                while len(self._failures) >= MAX_TRACKED:
                    del self._failures[next(iter(self._failures))]
                failures = self._failures[key] = deque(maxlen=limit)
            failures.append(now)

    def prune(self) -> None:
        horizon = self._clock() - self.window
        for key in [key for key, failures in self._failures.items() if not failures or failures[-1] <= horizon]:
            del self._failures[key]

    def __len__(self) -> int:
        return len(self._failures)
