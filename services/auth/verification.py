"""Verifying a client's credential for the gateway (POST /internal/verify).

Every failure gives the same answer (InvalidCredential), and the unknown-user path does the same hashing and
constant-time comparison as the wrong-token path, so neither errors nor timings tell which usernames exist.
"""

from __future__ import annotations

import hmac
import math
import os
import time
from collections.abc import Awaitable, Callable

import asyncpg

from services.auth import db
from services.auth.credentials import is_well_formed_api_key
from services.auth.crypto import CredentialHasher
from services.auth.permissions import effective_permissions
from services.auth.throttle import FailedAttemptThrottle
from services.auth.usage import UsageRecorder
from shared.errors import InvalidCredential, TooManyRequests
from shared.principal import Principal
from shared.verification import VerifyAnswer, VerifyRequest

BearerCheck = Callable[[asyncpg.Connection, str], Awaitable[VerifyAnswer | None]]
"""Recognises one family of opaque bearer tokens (api.php tokens, OAuth opaque tokens): the answer, or None when the
token is not one of its own or not valid."""


class Verifier:
    def __init__(
        self,
        hasher: CredentialHasher,
        throttle: FailedAttemptThrottle,
        usage: UsageRecorder,
        cache_ttl: int,
    ) -> None:
        self._hasher = hasher
        self._throttle = throttle
        self._usage = usage
        self._cache_ttl = cache_ttl
        # Compared against when the user is unknown or has no token, so that path costs the same.
        self._dummy_digest = os.urandom(32)
        self._bearer_checks: list[BearerCheck] = []

    def add_bearer_check(self, check: BearerCheck) -> None:
        """Plugged in by the features that issue opaque bearer tokens (services/auth/apiphp/setup.py)."""
        self._bearer_checks.append(check)

    async def verify(self, conn: asyncpg.Connection, request: VerifyRequest) -> VerifyAnswer:
        wait = await self._throttle.retry_after(request.username, request.client_ip)
        if wait is not None:
            raise TooManyRequests("Too many failed attempts; try again later", headers={"Retry-After": str(wait)})
        if request.kind == "api_key":
            verified = await self._verify_api_key(conn, request.secret, request.client_ip)
        elif request.kind == "basic":
            assert request.username is not None
            verified = await self._verify_basic(conn, request.username, request.secret, request.client_ip)
        else:
            verified = await self._verify_bearer(conn, request.secret)
        if verified is None:
            await self._throttle.record_failure(request.username, request.client_ip)
            self._usage.failed(request.kind, request.client_ip, request.username)
            raise InvalidCredential()
        if request.username is not None:
            await self._throttle.record_success(request.username, request.client_ip)
        return verified

    async def _verify_bearer(self, conn: asyncpg.Connection, token: str) -> VerifyAnswer | None:
        for check in self._bearer_checks:
            verified = await check(conn, token)
            if verified is not None:
                return verified
        return None

    def _ttl(self, expires_at: float | None, now: float) -> int:
        if expires_at is None:
            return self._cache_ttl
        return max(0, min(self._cache_ttl, math.floor(expires_at - now)))

    async def _verify_api_key(self, conn: asyncpg.Connection, key: str, client_ip: str | None) -> VerifyAnswer | None:
        if not is_well_formed_api_key(key):
            return None  # a mistyped key is refused without a database look-up
        digest = self._hasher.api_key(key)
        row = await db.find_api_key_for_verification(conn, digest)
        if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
            return None
        now = time.time()
        expires_at = row["expires_at"].timestamp() if row["expires_at"] is not None else None
        if row["revoked_at"] is not None or not row["is_active"] or (expires_at is not None and expires_at <= now):
            return None
        scope = row["scope"]
        key_id = str(row["id"])
        self._usage.key_used(key_id, client_ip)
        principal = Principal(
            user_id=row["user_id"],
            username=row["username"],
            # A narrowed key is not an admin credential, whoever owns it.
            is_admin=row["is_admin"] and scope is None,
            permissions=effective_permissions(row["is_admin"], row["permissions"], scope),
            credential_kind="api_key",
            credential_id=key_id,
            expires_at=expires_at,
        )
        return VerifyAnswer(principal, self._ttl(expires_at, now))

    async def _verify_basic(
        self, conn: asyncpg.Connection, username: str, token: str, client_ip: str | None
    ) -> VerifyAnswer | None:
        digest = self._hasher.api_token(token)
        row = await db.find_user_for_basic(conn, username)
        stored = bytes(row["token_hash"]) if row is not None and row["token_hash"] is not None else None
        matches = hmac.compare_digest(digest, stored if stored is not None else self._dummy_digest)
        if row is None or stored is None or not matches or not row["is_active"]:
            return None
        self._usage.token_used(row["id"], client_ip)
        principal = Principal(
            user_id=row["id"],
            username=row["username"],
            is_admin=row["is_admin"],
            permissions=effective_permissions(row["is_admin"], row["permissions"], None),
            credential_kind="api_token",
            credential_id=f"api_token:{row['id']}",
        )
        return VerifyAnswer(principal, self._cache_ttl)
