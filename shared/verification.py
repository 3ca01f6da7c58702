"""The contract of POST /internal/verify: the gateway asks the auth service who a client's credential belongs to.

Both sides build and read the wire form only through these two dataclasses. The request is checked here (every
field bounded, the kinds from a closed list) and a malformed one is a BadRequest, so the auth service answers it
with a 400 in the platform's error format; a malformed answer is a MalformedAnswer, which the gateway treats as the
auth service being unavailable (fail closed).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.errors import BadRequest
from shared.principal import Principal

VERIFY_PATH = "/internal/verify"
KINDS = ("api_key", "basic", "bearer")
MAX_SECRET_LENGTH = 512
MAX_USERNAME_LENGTH = 256
MAX_CLIENT_IP_LENGTH = 64
MAX_CACHE_TTL = 86_400


class MalformedAnswer(ValueError):
    """The auth service's answer is not a verification of this version."""


def _bounded_text(body: dict[str, Any], name: str, maximum: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a non-empty string", target=name)
    if len(value) > maximum:
        raise BadRequest(f"{name} is longer than {maximum} characters", target=name)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise BadRequest(f"{name} contains control characters", target=name)
    return value


def _client_ip(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CLIENT_IP_LENGTH:
        raise BadRequest("client_ip must be an IP address", target="client_ip")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise BadRequest("client_ip must be an IP address", target="client_ip") from None


@dataclass(frozen=True)
class VerifyRequest:
    """One credential as the client sent it (kind api_key: secret is the key; basic: username and token; bearer:
    the token), and the client's address for the failed-attempt throttle. The secret never appears in repr()."""

    VERSION: ClassVar[int] = 1

    kind: str
    secret: str
    username: str | None = None
    client_ip: str | None = None

    def __repr__(self) -> str:
        return f"VerifyRequest(kind={self.kind!r}, username={self.username!r}, client_ip={self.client_ip!r})"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"version": self.VERSION, "kind": self.kind}
        if self.kind == "api_key":
            body["key"] = self.secret
        else:
            if self.kind == "basic":
                body["username"] = self.username
            body["token"] = self.secret
        body["client_ip"] = self.client_ip
        return body

    @classmethod
    def from_dict(cls, body: object) -> VerifyRequest:
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object")
        if body.get("version") != cls.VERSION:
            raise BadRequest(f"version must be {cls.VERSION}", target="version")
        kind = body.get("kind")
        if kind not in KINDS:
            raise BadRequest(f"kind must be one of {', '.join(KINDS)}", target="kind")
        client_ip = _client_ip(body.get("client_ip"))
        if kind == "api_key":
            return cls(kind, _bounded_text(body, "key", MAX_SECRET_LENGTH), None, client_ip)
        secret = _bounded_text(body, "token", MAX_SECRET_LENGTH)
        username = _bounded_text(body, "username", MAX_USERNAME_LENGTH) if kind == "basic" else None
        return cls(kind, secret, username, client_ip)


@dataclass(frozen=True)
class VerifyAnswer:
    """Who the credential belongs to, and how many seconds the gateway may cache that (never past its expiry)."""

    VERSION: ClassVar[int] = 1

    principal: Principal
    cache_ttl: int

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.VERSION, "principal": self.principal.to_dict(), "cache_ttl": self.cache_ttl}

    @classmethod
    def from_dict(cls, body: object) -> VerifyAnswer:
        try:
            if not isinstance(body, dict):
                raise MalformedAnswer("not a JSON object")
            if body.get("version") != cls.VERSION:
                raise MalformedAnswer(f"unsupported version {body.get('version')!r}")
            ttl = body.get("cache_ttl")
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_CACHE_TTL:
                raise MalformedAnswer("cache_ttl must be a whole number of seconds")
            return cls(Principal.from_dict(body["principal"]), ttl)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            if isinstance(error, MalformedAnswer):
                raise
            raise MalformedAnswer(f"malformed verification: {type(error).__name__}") from None
