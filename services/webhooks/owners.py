"""Who a subscription's owner is now: asked of the auth service (GET /internal/users/{id}/access), which owns
users and their rights, and reused for a few seconds (WEBHOOKS_OWNER_CACHE_SECONDS).

Asking instead of reading the auth schema keeps one owner of the user tables; the short reuse keeps a burst of
deliveries to one owner from becoming a burst of calls, while a deactivated user or a removed right stops
deliveries within those seconds. An auth service that cannot answer makes the attempt wait (it is retried), never
go out unchecked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

LOOKUP_TIMEOUT_SECONDS = 5.0
MAX_CACHED = 10_000


class OwnerLookupFailed(Exception):
    """The auth service did not answer who an owner is (unreachable, or an unexpected answer)."""


@dataclass(frozen=True)
class OwnerAccess:
    user_id: int
    active: bool
    is_admin: bool
    permissions: frozenset[str]


def refusal(owner: OwnerAccess | None, permission: str, audience: Sequence[int] | None) -> str | None:
    """Why the event may not reach this owner's subscription, or None when it may."""
    if owner is None:
        return "the subscription's owner no longer exists"
    if not owner.active:
        return "the subscription's owner is deactivated"
    if owner.is_admin:
        return None
    if permission not in owner.permissions:
        return f"the subscription's owner lacks the permission {permission}"
    if audience is not None and owner.user_id not in audience:
        return "the event concerns another user"
    return None


class OwnerDirectory:
    def __init__(self, session: aiohttp.ClientSession, auth_url: str, signing_key: bytes, cache_seconds: float) -> None:
        self._session = session
        self._auth_url = auth_url
        self._signing_key = signing_key
        self._cache_seconds = cache_seconds
        self._cache: dict[int, tuple[float, OwnerAccess | None]] = {}

    async def access(self, user_id: int) -> OwnerAccess | None:
        """The owner's current state; None when no such user exists."""
        now = time.monotonic()
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        owner = await self._ask(user_id)
        if self._cache_seconds > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[user_id] = (now + self._cache_seconds, owner)
        return owner

    async def _ask(self, user_id: int) -> OwnerAccess | None:
        headers = {PRINCIPAL_HEADER: sign_principal(Principal.service("webhooks"), self._signing_key, "auth")}
        url = f"{self._auth_url}/internal/users/{int(user_id)}/access"
        try:
            async with self._session.get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=LOOKUP_TIMEOUT_SECONDS)
            ) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise OwnerLookupFailed(f"the auth service answered {response.status}")
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise OwnerLookupFailed(f"the auth service did not answer: {type(error).__name__}") from None
        try:
            return OwnerAccess(
                user_id=int(body["user_id"]),
                active=bool(body["active"]),
                is_admin=bool(body["is_admin"]),
                permissions=frozenset(str(item) for item in body["permissions"]),
            )
        except (KeyError, TypeError, ValueError):
            raise OwnerLookupFailed("the auth service's answer is malformed") from None
