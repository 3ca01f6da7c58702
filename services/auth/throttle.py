"""Throttling of failed attempts (logins, credentials, OAuth client secrets) with growing delays.

Failures are counted per (name, client address) and per client address, never per name alone: a stranger guessing
the admin's password from elsewhere slows down only their own address, so they cannot lock the real admin out.
From the fifth failure of a name from one address on (the fiftieth from one address), each failure imposes a wait
before the next attempt, doubling each time up to a ceiling, and a quiet spell forgets them. Within a wait a
caller gets a clear 429 with Retry-After, never a silent lock-out. Counted on the service's counters
(shared/counters.py): in Redis, so they hold across replicas, or in memory.
"""

from __future__ import annotations

import hashlib
import math

from shared.counters import BackoffPolicy, Counters

# One name from one address: a user who mistypes a few times barely notices; a guesser soon waits minutes.
PAIR_POLICY = BackoffPolicy(free_failures=5, base_delay=1.0, max_delay=900.0, forget_after=900.0)
# One address across every name (spraying one password over many accounts): more room for shared addresses.
ADDRESS_POLICY = BackoffPolicy(free_failures=50, base_delay=1.0, max_delay=900.0, forget_after=900.0)
UNKNOWN_ADDRESS = "-"


def _digest(*parts: str) -> str:
    """Names in keys are hashed: bounded length, and no user names in the counter store."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


class FailedAttemptThrottle:
    def __init__(
        self,
        counters: Counters,
        kind: str,
        *,
        pair_policy: BackoffPolicy = PAIR_POLICY,
        address_policy: BackoffPolicy = ADDRESS_POLICY,
    ) -> None:
        self.counters = counters
        self.kind = kind
        self.pair_policy = pair_policy
        self.address_policy = address_policy

    def _keys(self, name: str | None, client_ip: str | None) -> list[tuple[str, BackoffPolicy]]:
        address = client_ip or UNKNOWN_ADDRESS
        keys = []
        if name is not None:
            keys.append((f"{self.kind}:pair:{_digest(name.lower(), address)}", self.pair_policy))
        if client_ip is not None:
            keys.append((f"{self.kind}:address:{_digest(client_ip)}", self.address_policy))
        return keys

    async def retry_after(self, name: str | None, client_ip: str | None) -> int | None:
        """Seconds until this caller may try again, or None when it may try now."""
        wait = 0.0
        for key, policy in self._keys(name, client_ip):
            wait = max(wait, await self.counters.failure_wait(key, policy))
        return max(1, math.ceil(wait)) if wait > 0 else None

    async def record_failure(self, name: str | None, client_ip: str | None) -> None:
        for key, policy in self._keys(name, client_ip):
            await self.counters.record_failure(key, policy)

    async def record_success(self, name: str | None, client_ip: str | None) -> None:
        """The name's own count from this address starts again; the address's count does not (an attacker with
        one valid account must not be able to reset their address between guesses at others)."""
        if name is not None:
            key, policy = self._keys(name, client_ip)[0]
            await self.counters.clear_failures(key, policy)
