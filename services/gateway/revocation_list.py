"""A bounded memory of revocations, each kept until it can no longer matter (the tokens it refuses have expired).

When the bound is reached, the entries that expire first are dropped, never the one just added: those refuse tokens
closest to expiring anyway, while dropping the newest would let a token revoked a moment ago back in.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class ExpiringEntries(Generic[K]):
    """key -> value (a time), each forgotten after its own deadline; at most `capacity` entries."""

    def __init__(self, capacity: int, clock: Callable[[], float] = time.time) -> None:
        self.capacity = capacity
        self._clock = clock
        self._entries: dict[K, tuple[float, float]] = {}  # key -> (value, forget after)
        # (forget after, key), oldest deadline first; an item whose deadline no longer matches its entry is stale.
        self._deadlines: list[tuple[float, K]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: K, value: float, forget_after: float) -> None:
        """Remember key until forget_after; a key already known keeps the later value and deadline of the two."""
        now = self._clock()
        current = self._entries.get(key)
        if current is not None:
            value, forget_after = max(value, current[0]), max(forget_after, current[1])
            if (value, forget_after) == current:
                return
        if forget_after <= now:
            return
        self._entries[key] = (value, forget_after)
        heapq.heappush(self._deadlines, (forget_after, key))
        self._shrink(now, key)

    def get(self, key: K) -> float | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def _shrink(self, now: float, keep: K) -> None:
        spared: tuple[float, K] | None = None
        while self._deadlines:
            deadline, key = self._deadlines[0]
            entry = self._entries.get(key)
            if entry is None or entry[1] != deadline:
                heapq.heappop(self._deadlines)
                continue
            if deadline > now and len(self._entries) <= self.capacity:
                break
            heapq.heappop(self._deadlines)
            if key == keep and deadline > now:
                spared = (deadline, key)
                continue
            del self._entries[key]
        if spared is not None:
            heapq.heappush(self._deadlines, spared)
        if len(self._deadlines) > 2 * len(self._entries) + 1024:
            self._deadlines = [(deadline, key) for key, (_, deadline) in self._entries.items()]
            heapq.heapify(self._deadlines)
