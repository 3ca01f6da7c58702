"""The internal principal: who is calling, as established by the gateway, signed so backends can trust it.

The gateway verifies the client's credential, then forwards the request with one header holding the principal as
a JWT (RFC 7519) signed with HS256 under INTERNAL_SIGNING_KEY, shared by the services. The token names the one
service it is meant for (`aud`, RFC 7519 section 4.1.3) and lives for seconds (`iat`, `exp`), so a header copied
from one backend's logs or traffic can neither be replayed against another backend nor for long. Each service
refuses a principal addressed to any other name than its own, and any request on a protected route without a
valid one: calling a backend directly, around the gateway, gets a 401.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web

from shared.errors import Forbidden, Unauthorized

PRINCIPAL_HEADER = "X-Platform-Principal"
ALGORITHM = "HS256"
PRINCIPAL_VERSION = 1
# A principal is minted for one forwarded request; a backend sees it within milliseconds.
LIFETIME_SECONDS = 30
# Clock skew tolerated between the gateway and a backend on another host.
LEEWAY_SECONDS = 5
MAX_HEADER_LENGTH = 16_384


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user acting through one credential, or an internal service."""

    user_id: int | None
    username: str
    is_admin: bool
    permissions: frozenset[str]
    credential_kind: str  # api_key | api_token | oauth_access | service
    credential_id: str
    expires_at: float | None = None
    client_id: str | None = None
    scopes: tuple[str, ...] = field(default_factory=tuple)

    def can(self, resource: str, action: str) -> bool:
        return f"{resource}:{action}" in self.permissions

    def require(self, resource: str, action: str) -> None:
        if not self.can(resource, action):
            raise Forbidden(f"This credential lacks the permission {resource}:{action}")

    @property
    def is_service(self) -> bool:
        return self.credential_kind == "service"

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "is_admin": self.is_admin,
            "permissions": sorted(self.permissions),
            "credential_kind": self.credential_kind,
            "credential_id": self.credential_id,
            "expires_at": self.expires_at,
            "client_id": self.client_id,
            "scopes": list(self.scopes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Principal:
        return cls(
            user_id=data.get("user_id"),
            username=str(data["username"]),
            is_admin=bool(data.get("is_admin", False)),
            permissions=frozenset(data.get("permissions", ())),
            credential_kind=str(data["credential_kind"]),
            credential_id=str(data["credential_id"]),
            expires_at=data.get("expires_at"),
            client_id=data.get("client_id"),
            scopes=tuple(data.get("scopes", ())),
        )

    @classmethod
    def service(cls, name: str) -> Principal:
        """The identity one service uses to call another's internal endpoints."""
        return cls(
            user_id=None,
            username=f"service:{name}",
            is_admin=False,
            permissions=frozenset(),
            credential_kind="service",
            credential_id=name,
        )


def sign_principal(principal: Principal, key: bytes, audience: str, *, now: float | None = None) -> str:
    """The header value that carries `principal` to the service named `audience`, and to no other."""
    issued = int(time.time() if now is None else now)
    claims = {
        "aud": audience,
        "iat": issued,
        "exp": issued + LIFETIME_SECONDS,
        "ver": PRINCIPAL_VERSION,
        "principal": principal.to_dict(),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_principal(value: str, key: bytes, audience: str) -> Principal:
    """The principal in a header value, if it was signed with `key` for `audience` and is still fresh.

    Anything else is an Unauthorized (401): a wrong key, algorithm or audience, an expired or far-future token,
    and any malformed value (not ASCII, not base64url, not JSON, missing claims)."""
    if not value or len(value) > MAX_HEADER_LENGTH or not value.isascii():
        raise Unauthorized("Missing or malformed internal principal; call this API through the gateway")
    try:
        claims = jwt.decode(
            value,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            leeway=LEEWAY_SECONDS,
            options={"require": ["aud", "iat", "exp"], "strict_aud": True},
        )
    except jwt.InvalidAudienceError:
        raise Unauthorized("This internal principal was issued for another service") from None
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Expired internal principal") from None
    except jwt.InvalidSignatureError:
        raise Unauthorized("Invalid internal principal signature; call this API through the gateway") from None
    except (jwt.PyJWTError, ValueError, TypeError):
        raise Unauthorized("Malformed internal principal; call this API through the gateway") from None
    try:
        if claims.get("ver") != PRINCIPAL_VERSION:
            raise ValueError("unsupported version")
        # A token signed to live longer than a principal may is not one this platform minted.
        if float(claims["exp"]) - float(claims["iat"]) > LIFETIME_SECONDS:
            raise ValueError("lifetime too long")
        return Principal.from_dict(claims["principal"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Unauthorized("Malformed internal principal; call this API through the gateway") from None


def principal_from_request(request: web.BaseRequest, key: bytes, audience: str) -> Principal:
    return verify_principal(request.headers.get(PRINCIPAL_HEADER, ""), key, audience)
