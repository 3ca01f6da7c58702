"""Registered clients (developer apps and plugins) as the protocol sees them, and the rules their settings obey."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from shared.errors import BadRequest

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
MAX_REDIRECT_URIS = 10
MAX_REDIRECT_URI_LENGTH = 2000


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    owner_user_id: int
    name: str
    kind: str
    is_confidential: bool
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    granted_permissions: frozenset[str]
    secret_hash: bytes | None

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, name={self.name!r}, kind={self.kind!r})"

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> OAuthClient:
        return cls(
            client_id=row["client_id"],
            owner_user_id=row["owner_user_id"],
            name=row["name"],
            kind=row["kind"],
            is_confidential=row["is_confidential"],
            redirect_uris=tuple(row["redirect_uris"]),
            scopes=tuple(row["scopes"]),
            grant_types=tuple(row["grant_types"]),
            granted_permissions=frozenset(row["granted_permissions"]),
            secret_hash=bytes(row["secret_hash"]) if row["secret_hash"] is not None else None,
        )

    def allows_grant(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_redirect_uri(uri: object, target: str = "redirect_uris") -> str:
    """An absolute URI without fragment (RFC 6749 section 3.1.2), https unless it points at loopback
    (RFC 8252 section 7.3); compared later as an exact string."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_REDIRECT_URI_LENGTH:
        raise BadRequest(
            f"Each redirect URI is a string of at most {MAX_REDIRECT_URI_LENGTH} characters", target=target
        )
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in uri):
        raise BadRequest("A redirect URI must not contain spaces or control characters", target=target)
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        raise BadRequest("A redirect URI must be an absolute URL", target=target) from None
    if parts.fragment or "#" in uri:
        raise BadRequest("A redirect URI must not contain a fragment", target=target)
    if parts.scheme not in ("https", "http") or not host:
        raise BadRequest("A redirect URI must be an absolute http(s) URL", target=target)
    if parts.username is not None or parts.password is not None:
        raise BadRequest("A redirect URI must not contain credentials", target=target)
    if parts.scheme == "http" and not is_loopback(host):
        raise BadRequest("A redirect URI must use https, except for loopback addresses", target=target)
    return uri


def validate_redirect_uris(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_REDIRECT_URIS:
        raise BadRequest(f"redirect_uris must be a list of at most {MAX_REDIRECT_URIS} URLs", target="redirect_uris")
    uris: list[str] = []
    for item in value:
        uri = validate_redirect_uri(item)
        if uri not in uris:
            uris.append(uri)
    return tuple(uris)


def validate_grant_types(value: object, is_confidential: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > len(GRANT_TYPES):
        raise BadRequest(f"grant_types must be a non-empty list of {', '.join(GRANT_TYPES)}", target="grant_types")
    found: list[str] = []
    for item in value:
        if item not in GRANT_TYPES:
            raise BadRequest(f"Unknown grant type; expected {', '.join(GRANT_TYPES)}", target="grant_types")
        if item not in found:
            found.append(item)
    if "client_credentials" in found and not is_confidential:
        raise BadRequest("A public client cannot use client_credentials (RFC 6749 4.4)", target="grant_types")
    if "refresh_token" in found and "authorization_code" not in found:
        raise BadRequest("refresh_token needs authorization_code", target="grant_types")
    return tuple(found)


def check_redirect_uris_for_grants(redirect_uris: Iterable[str], grant_types: Iterable[str]) -> None:
    if "authorization_code" in grant_types and not list(redirect_uris):
        raise BadRequest("The authorization_code grant needs at least one redirect URI", target="redirect_uris")
