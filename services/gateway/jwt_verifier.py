"""Local verification of the OAuth server's JWT access tokens (RFC 9068) at the gateway.

The signing keys come from the auth service's JWKS endpoint and are cached; a token signed with an unknown `kid`
triggers a refresh (at most one every `min_refresh_interval` seconds, so a flood of forged kids cannot turn the
gateway into a JWKS hammer). The checks, per RFC 9068 section 4: `typ` is at+jwt, the algorithm is one the key
allows (never `none`, never HMAC: the key is asymmetric), signature, `iss`, `aud`, `exp` (with a small leeway), and
the presence of `iat`, `jti`, `sub` and `client_id`.

A JWT stays valid until it expires, so revocation needs state: the auth service publishes
shared.messages.CredentialRevoked for every revoked token (credential_kind "oauth_access", credential_id = jti) and,
when a user's rights are weakened, an event with user_id and the user's not-before time. The gateway's consumer
passes each event to `handle_revocation`: revoked jtis are refused until they would have expired; a user's tokens
with iat before their not-before time are refused. The state lives in memory and the bus only announces changes, so
the gateway loads the whole of it (`load_revocations`, GET /internal/oauth/revocations on the auth service, where it
is stored durably) when it starts and whenever its broker connection comes back. With require_loaded_revocations,
no token is accepted before the first load succeeded (503): a new replica must not accept what was revoked before it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
import jwt

from services.gateway.challenges import bearer_challenge
from services.gateway.revocation_list import ExpiringEntries
from shared.errors import InvalidCredential, ServiceUnavailable
from shared.messages import CredentialRevoked
from shared.principal import Principal

log = logging.getLogger(__name__)

ACCESS_CREDENTIAL_KIND = "oauth_access"
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
ASYMMETRIC_ALGORITHMS = ("ES256", "RS256")
MAX_TOKEN_LENGTH = 8192
MAX_JWKS_BYTES = 256 * 1024
MAX_REVOKED_TOKENS = 500_000
MAX_REVOKED_USERS = 100_000
DEFAULT_CACHE_SIZE = 10_000


class InvalidToken(InvalidCredential):
    """An access token refused (RFC 6750 section 3.1: the invalid_token code), with its Bearer challenge."""

    code = "invalid_token"
    DEFAULT_MESSAGE = "The access token is invalid, expired or revoked"

    def __init__(self, message: str | None = None) -> None:
        message = message or self.DEFAULT_MESSAGE
        super().__init__(message, headers={"WWW-Authenticate": bearer_challenge("invalid_token", message)})


class JwksUnavailable(ServiceUnavailable):
    """No signing keys could be fetched: refuse (fail closed) with 503 rather than call a token invalid."""

    code = "jwks_unavailable"


class RevocationsUnavailable(ServiceUnavailable):
    """The revocation state is not loaded yet: refuse (fail closed) with 503 rather than accept a revoked token."""

    code = "revocations_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Access tokens cannot be checked until the revocation list is loaded; try again shortly",
            headers={"Retry-After": "2"},
        )


def looks_like_jwt(token: str) -> bool:
    """True for a compact JWS (three base64url parts, the first the base64url of a JSON object, so starting with
    "eyJ"): verified locally; anything else is an opaque token the auth service verifies."""
    return token.count(".") == 2 and token.startswith("eyJ")


class JwtVerifier:
    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        *,
        session: aiohttp.ClientSession | None = None,
        algorithms: Iterable[str] = ASYMMETRIC_ALGORITHMS,
        leeway_seconds: float = 30.0,
        min_refresh_interval: float = 5.0,
        jwks_max_age: float = 300.0,
        fetch_timeout: float = 5.0,
        max_token_lifetime: float = 30 * 86_400.0,
        clock: Callable[[], float] = time.time,
        cache_size: int = DEFAULT_CACHE_SIZE,
        require_loaded_revocations: bool = False,
        max_revoked_tokens: int = MAX_REVOKED_TOKENS,
        max_revoked_users: int = MAX_REVOKED_USERS,
    ) -> None:
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._session = session
        self._owns_session = session is None
        self._algorithms = tuple(algorithm for algorithm in algorithms if algorithm in ASYMMETRIC_ALGORITHMS)
        self._leeway = leeway_seconds
        self._min_refresh_interval = min_refresh_interval
        self._jwks_max_age = jwks_max_age
        self._fetch_timeout = fetch_timeout
        self._max_token_lifetime = max_token_lifetime
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self._revoked_tokens: ExpiringEntries[str] = ExpiringEntries(max_revoked_tokens, clock)
        self._not_before: ExpiringEntries[int] = ExpiringEntries(max_revoked_users, clock)  # user id -> not before
        self.revocations_loaded = not require_loaded_revocations
        # Tokens already verified, so the steady state costs a dict look-up instead of a signature check; expiry and
        # revocation are still checked on every hit.
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._cache_size = cache_size

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- keys --------------------------------------------------------------------------------------------------

    async def refresh_keys(self, *, force: bool = False) -> None:
        """Fetch the JWKS; rate-limited unless forced; on failure the keys already known stay in use."""
        async with self._lock:
            now = time.monotonic()
            if not force and self._attempted_at is not None and now - self._attempted_at < self._min_refresh_interval:
                return
            self._attempted_at = now
            try:
                self._keys = await self._fetch()
                self._fetched_at = now
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("could not fetch the JWKS: %s", type(error).__name__)

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self._fetch_timeout)
        async with self._session.get(self._jwks_url, timeout=timeout) as response:
            if response.status != 200:
                raise ValueError(f"JWKS answered {response.status}")
            raw = await response.content.read(MAX_JWKS_BYTES + 1)
        if len(raw) > MAX_JWKS_BYTES:
            raise ValueError("JWKS too large")
        document = json.loads(raw)
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("alg") not in self._algorithms or "kid" not in entry:
                continue
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue
        return keys

    async def _key_for(self, kid: str) -> jwt.PyJWK | None:
        stale = self._fetched_at is None or time.monotonic() - self._fetched_at > self._jwks_max_age
        if kid not in self._keys or stale:
            await self.refresh_keys(force=self._attempted_at is None)
        if not self._keys and self._fetched_at is None:
            raise JwksUnavailable("The token signing keys cannot be fetched from the auth service")
        return self._keys.get(kid)

    # --- verification ------------------------------------------------------------------------------------------

    async def verify(self, token: str) -> Principal:
        if not self.revocations_loaded:
            raise RevocationsUnavailable()
        cached = self._verified.get(token)
        if cached is not None:
            principal, issued_at = cached
            if principal.expires_at is not None and principal.expires_at + self._leeway < self._clock():
                del self._verified[token]
                raise InvalidToken("The access token has expired")
            if self.is_revoked(principal.credential_id, principal.user_id, issued_at):
                raise InvalidToken("The access token has been revoked")
            self._verified.move_to_end(token)
            return principal
        principal, issued_at = await self._verify_signed(token)
        if self.is_revoked(principal.credential_id, principal.user_id, issued_at):
            raise InvalidToken("The access token has been revoked")
        if self._cache_size > 0:
            self._verified[token] = (principal, issued_at)
            while len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
        return principal

    async def _verify_signed(self, token: str) -> tuple[Principal, float]:
        if not token or len(token) > MAX_TOKEN_LENGTH or not looks_like_jwt(token):
            raise InvalidToken("The access token is malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("The access token is malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self._algorithms or not isinstance(kid, str) or len(kid) > 100:
            raise InvalidToken("The access token is not signed with an accepted key")
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("The token is not an access token")
        key = await self._key_for(kid)
        if key is None or key.algorithm_name != algorithm:
            raise InvalidToken("The access token is not signed with an accepted key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "jti", "sub", "client_id", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The access token has expired") from None
        except jwt.PyJWTError:
            raise InvalidToken() from None
        return _principal(claims), float(claims["iat"])

    # --- revocation --------------------------------------------------------------------------------------------

    def handle_revocation(self, event: CredentialRevoked) -> None:
        """Feed every CredentialRevoked from the auth events exchange here."""
        now = self._clock()
        if event.credential_id is not None:
            if event.credential_kind == ACCESS_CREDENTIAL_KIND:
                self.revoke_token(event.credential_id, now + self._max_token_lifetime + self._leeway)
        elif isinstance(event.user_id, int):
            # The auth service's time; an event without one (an older publisher) takes ours.
            at = event.not_before if _is_time(event.not_before) else now
            self.revoke_user(event.user_id, float(at), float(at) + self._max_token_lifetime + self._leeway)

    def revoke_token(self, jti: str, forget_after: float) -> None:
        self._revoked_tokens.put(jti, 0.0, forget_after)

    def revoke_user(self, user_id: int, not_before: float, forget_after: float) -> None:
        """Refuse the user's tokens issued before not_before, until forget_after (when all of them have expired)."""
        self._not_before.put(user_id, not_before, forget_after)

    def is_revoked(self, jti: str, user_id: int | None, issued_at: float) -> bool:
        if jti in self._revoked_tokens:
            return True
        not_before = self._not_before.get(user_id) if user_id is not None else None
        return not_before is not None and issued_at < not_before

    async def load_revocations(self, url: str, headers: dict[str, str]) -> int:
        """Learn every revocation that still matters from the auth service (at start-up and after the bus was
        away); returns how many entries were read. Entries are added to what is known, never replacing it."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self._fetch_timeout)
        async with self._session.get(url, headers=headers, timeout=timeout) as response:
            response.raise_for_status()
            body = await response.json()
        if not isinstance(body, dict) or not isinstance(body.get("revoked", []), list):
            raise ValueError("the revocation list is malformed")
        revoked, users = body.get("revoked", []), body.get("not_before", [])
        for entry in revoked:
            if isinstance(entry, dict) and isinstance(entry.get("jti"), str) and _is_time(entry.get("exp")):
                self.revoke_token(entry["jti"], float(entry["exp"]) + self._leeway)
        for entry in users if isinstance(users, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("user_id"), int):
                continue
            at, until = entry.get("not_before"), entry.get("until")
            if _is_time(at) and _is_time(until):
                self.revoke_user(entry["user_id"], float(at), float(until) + self._leeway)
        self.revocations_loaded = True
        return len(revoked) + (len(users) if isinstance(users, list) else 0)


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _principal(claims: dict[str, Any]) -> Principal:
    subject, client_id = str(claims["sub"]), str(claims["client_id"])
    permissions = claims.get("permissions", [])
    scope = claims.get("scope", "")
    if not isinstance(permissions, list) or not all(isinstance(item, str) for item in permissions):
        raise InvalidToken("The access token's permissions claim is malformed")
    if not isinstance(scope, str):
        raise InvalidToken("The access token's scope claim is malformed")
    # RFC 9068 section 2.2: sub is the client id itself when the token acts for the client (client credentials).
    user_id = int(subject) if subject != client_id and subject.isdigit() and len(subject) <= 18 else None
    return Principal(
        user_id=user_id,
        username=str(claims.get("username") or subject)[:200],
        is_admin=claims.get("admin") is True,
        permissions=frozenset(permissions),
        credential_kind=ACCESS_CREDENTIAL_KIND,
        credential_id=str(claims["jti"]),
        expires_at=float(claims["exp"]),
        client_id=client_id,
        scopes=tuple(scope.split()),
    )
