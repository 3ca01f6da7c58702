"""Turning a client's credential into a principal: the cache first, then the auth service.

Fail closed: when the auth service cannot answer, a credential that is not cached is refused with 503 (the
client may retry; it is not told its credential is wrong). Repeated failures open a circuit breaker
(services/gateway/breaker.py), so those 503s come at once instead of after VERIFY_TIMEOUT. During an outage a
principal verified before it keeps working for VERIFY_OUTAGE_GRACE seconds past its cache entry's end, but only
while the bus connection that carries revocations is up (the cache is emptied when it drops), and a revocation
still evicts it at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from services.gateway.breaker import AuthBreaker
from services.gateway.cache import PrincipalCache
from services.gateway.credentials import Credential
from shared.errors import ApiError, ServiceUnavailable, TooManyRequests
from shared.messages import CredentialRevoked
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

log = logging.getLogger(__name__)

AUTH_UNAVAILABLE_RETRY_AFTER = "5"
# The auth service's name: its upstream name in the route table and the audience of the principals it accepts.
AUTH_AUDIENCE = "auth"
MAX_VERIFY_ANSWER_BYTES = 64 * 1024


class JwtVerifier(Protocol):
    """Local verification of JWT access tokens, plugged in by the OAuth issue (services/gateway/jwt_verifier.py
    fits this shape); without one, every bearer token is checked by the auth service as an opaque token."""

    async def verify(self, token: str) -> Principal: ...

    def handle_revocation(self, event: CredentialRevoked) -> None: ...


def looks_like_jwt(token: str) -> bool:
    """A compact JWS: three parts, the first the base64url of a JSON object (so it starts with "eyJ")."""
    return token.count(".") == 2 and token.startswith("eyJ")


@dataclass(frozen=True)
class Verification:
    principal: Principal
    cache_ttl: float


def auth_unavailable(retry_after: str = AUTH_UNAVAILABLE_RETRY_AFTER) -> ServiceUnavailable:
    return ServiceUnavailable(
        "Credentials cannot be verified right now; try again shortly", headers={"Retry-After": retry_after}
    )


class AuthClient:
    """POST {AUTH_URL}/internal/verify, signed as the gateway's service principal."""

    def __init__(self, session: aiohttp.ClientSession, auth_url: str, signing_key: bytes, timeout: float) -> None:
        self._session = session
        self._url = f"{auth_url}/internal/verify"
        self._health_url = f"{auth_url}/healthz"
        self._signing_key = signing_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._identity = Principal.service("gateway")
        self.calls = 0

    async def verify(self, credential: Credential, client_ip: str | None) -> Verification:
        self.calls += 1
        headers = {
            PRINCIPAL_HEADER: sign_principal(self._identity, self._signing_key, AUTH_AUDIENCE),
            # Explicit: the shared session skips automatic Content-Type so proxied bodies pass through as sent.
            "Content-Type": "application/json",
        }
        try:
            async with self._session.post(
                self._url, json=credential.verify_request(client_ip), headers=headers, timeout=self._timeout
            ) as response:
                if response.status == 200:
                    if (response.content_length or 0) > MAX_VERIFY_ANSWER_BYTES:
                        log.error("the auth service answered an oversized verification")
                        raise auth_unavailable()
                    return self._verification(await response.read())
                if response.status in (400, 401):
                    raise credential.invalid()
                if response.status == 429:
                    raise TooManyRequests(
                        "Too many failed attempts; try again later",
                        headers={"Retry-After": _retry_after(response.headers.get("Retry-After"))},
                    )
                log.error("the auth service refused a verification with status %s", response.status)
                raise auth_unavailable()
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("the auth service is unreachable: %s", type(error).__name__)
            raise auth_unavailable() from None

    async def check_health(self) -> None:
        async with self._session.get(self._health_url, timeout=self._timeout) as response:
            if response.status != 200:
                raise ConnectionError(f"auth /healthz answered {response.status}")

    @staticmethod
    def _verification(body: bytes) -> Verification:
        try:
            data = json.loads(body)
            principal = Principal.from_dict(data["principal"])
            ttl = float(data.get("cache_ttl", 0))
        except (ValueError, KeyError, TypeError):
            log.error("the auth service answered a malformed verification")
            raise auth_unavailable() from None
        return Verification(principal, max(0.0, ttl))


def _retry_after(value: str | None) -> str:
    return value if value is not None and value.isdigit() and len(value) <= 6 else "60"


class CredentialVerifier:
    def __init__(
        self,
        client: AuthClient,
        cache: PrincipalCache,
        jwt_verifier: JwtVerifier | None = None,
        breaker: AuthBreaker | None = None,
    ) -> None:
        self._client = client
        self._cache = cache
        self.jwt_verifier = jwt_verifier
        self.breaker = breaker
        # Per process, so a memory dump of the cache's keys cannot be tested against guessed credentials offline.
        self._salt = os.urandom(32)
        self.cache_enabled = True
        # One auth call per credential at a time: when a busy credential's entry ages out, the requests that miss
        # together share one verification instead of each calling the auth service.
        self._in_flight: dict[bytes, asyncio.Task[Principal]] = {}

    async def verify(self, credential: Credential, client_ip: str | None) -> Principal:
        if credential.is_bearer and self.jwt_verifier is not None and looks_like_jwt(credential.secret):
            return await self.jwt_verifier.verify(credential.secret)
        key = credential.cache_key(self._salt)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if self.breaker is not None and not self.breaker.allows():
            return self._stale_or_refuse(key, str(self.breaker.retry_after()))
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.create_task(self._verify_with_auth(key, credential, client_ip))
            self._in_flight[key] = task
            task.add_done_callback(lambda _: self._in_flight.pop(key, None))
        try:
            # Shielded: one client hanging up must not cancel the verification the others are waiting for.
            return await asyncio.shield(task)
        except ServiceUnavailable:
            return self._stale_or_refuse(key, AUTH_UNAVAILABLE_RETRY_AFTER)

    def _stale_or_refuse(self, key: bytes, retry_after: str) -> Principal:
        """During an auth outage: a principal verified before it, within the grace period, or 503."""
        stale = self._cache.get_stale(key) if self.cache_enabled else None
        if stale is None:
            raise auth_unavailable(retry_after)
        return stale

    async def _verify_with_auth(self, key: bytes, credential: Credential, client_ip: str | None) -> Principal:
        generation = self._cache.generation
        try:
            verification = await self._client.verify(credential, client_ip)
        except ServiceUnavailable:
            if self.breaker is not None:
                self.breaker.record_failure()
            raise
        except ApiError:
            if self.breaker is not None:
                self.breaker.record_success()  # an answer (wrong credential, throttled): auth is up
            raise
        if self.breaker is not None:
            self.breaker.record_success()
        expires_at = verification.principal.expires_at
        if expires_at is not None and expires_at <= time.time():
            raise credential.invalid()
        if self.cache_enabled:
            self._cache.put(key, verification.principal, verification.cache_ttl, generation)
        return verification.principal
