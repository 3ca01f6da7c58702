"""The bounded in-memory cache of verified principals, indexed for revocation.

Keys are keyed digests of the credential (never the secret itself). An entry lives at most max_age seconds,
never past the auth service's cache_ttl nor the principal's own expiry; the least recently used entry goes
first when the cache is full. Revocation evicts by credential id or by user id.

An entry past its deadline no longer answers `get`, but it is kept for `grace` more seconds, so that during an
auth-service outage a principal verified before it can still be answered by `get_stale` (never past the
principal's own expiry, and gone at once on revocation like any entry).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.principal import Principal


@dataclass(frozen=True)
class CacheEntry:
    principal: Principal
    deadline: float  # monotonic
    stale_deadline: float  # monotonic; usable by get_stale until then


class PrincipalCache:
    def __init__(
        self,
        max_entries: int,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        grace: float = 0.0,
    ) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self.grace = grace
        self._clock = clock
        self._wall_clock = wall_clock
        self._entries: OrderedDict[bytes, CacheEntry] = OrderedDict()
        self._by_credential: dict[str, set[bytes]] = {}
        self._by_user: dict[int, set[bytes]] = {}
        # Bumped on every eviction by event, so a verification that was in flight while a revocation arrived
        # does not put the revoked answer back.
        self.generation = 0
        self.hits = 0
        self.misses = 0
        self.stale_hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        now = self._clock()
        if now >= entry.deadline:
            if now >= entry.stale_deadline:
                self._remove(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.principal

    def put(self, key: bytes, principal: Principal, ttl: float, generation: int) -> bool:
        """Store a principal verified when the cache was at `generation`; False when it is not cached."""
        lifetime = min(self.max_age, ttl)
        if principal.expires_at is not None:
            lifetime = min(lifetime, principal.expires_at - self._wall_clock())
        if self.max_entries <= 0 or lifetime <= 0 or generation != self.generation:
            return False
        if key in self._entries:
            self._remove(key)
        deadline = self._clock() + lifetime
        self._entries[key] = CacheEntry(principal, deadline, deadline + self.grace)
        self._by_credential.setdefault(principal.credential_id, set()).add(key)
        if principal.user_id is not None:
            self._by_user.setdefault(principal.user_id, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._remove(next(iter(self._entries)))
        return True

    def get_stale(self, key: bytes) -> Principal | None:
        """The principal of a fresh or aged-out entry still within its grace period (for auth outages only)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry.stale_deadline:
            self._remove(key)
            return None
        expires_at = entry.principal.expires_at
        if expires_at is not None and expires_at <= self._wall_clock():
            return None
        self.stale_hits += 1
        return entry.principal

    def evict_credential(self, credential_id: str) -> int:
        self.generation += 1
        return self._remove_all(self._by_credential.get(credential_id, set()))

    def evict_user(self, user_id: int) -> int:
        self.generation += 1
        return self._remove_all(self._by_user.get(user_id, set()))

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._by_credential.clear()
        self._by_user.clear()

    def _remove_all(self, keys: set[bytes]) -> int:
        doomed = list(keys)
        for key in doomed:
            self._remove(key)
        return len(doomed)

    def _remove(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        principal = entry.principal
        self._discard(self._by_credential, principal.credential_id, key)
        if principal.user_id is not None:
            self._discard(self._by_user, principal.user_id, key)

    @staticmethod
    def _discard(index: dict, name: object, key: bytes) -> None:  # type: ignore[type-arg]
        keys = index.get(name)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del index[name]
