"""The internal principal: who is calling, as established by the gateway, signed so backends can trust it.

The gateway verifies the client's credential, then forwards the request with one header holding the principal
as base64url JSON plus an HMAC-SHA256 signature over it (key: INTERNAL_SIGNING_KEY, shared by the services).
The signed value carries its own short expiry so a header copied from a log cannot be replayed for long.
Backends refuse any request on a protected route without a valid signature: calling a backend directly,
around the gateway, gets a 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from shared.errors import Forbidden, Unauthorized

PRINCIPAL_HEADER = "X-Platform-Principal"
SIGNATURE_LIFETIME_SECONDS = 60
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_principal(principal: Principal, key: bytes, now: float | None = None) -> str:
    issued = time.time() if now is None else now
    payload = {"p": principal.to_dict(), "exp": issued + SIGNATURE_LIFETIME_SECONDS}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def verify_principal(value: str, key: bytes, now: float | None = None) -> Principal:
    if not value or len(value) > MAX_HEADER_LENGTH or value.count(".") != 1:
        raise Unauthorized("Missing or malformed internal principal; call this API through the gateway")
    body, signature = value.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        raise Unauthorized("Invalid internal principal signature; call this API through the gateway")
    try:
        payload = json.loads(_unb64(body))
        principal = Principal.from_dict(payload["p"])
        expires = float(payload["exp"])
    except (ValueError, KeyError, TypeError):
        raise Unauthorized("Malformed internal principal") from None
    if (time.time() if now is None else now) > expires:
        raise Unauthorized("Expired internal principal")
    return principal


def principal_from_request(request: web.Request, key: bytes) -> Principal:
    return verify_principal(request.headers.get(PRINCIPAL_HEADER, ""), key)
