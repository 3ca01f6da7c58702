"""Developer apps and plugin clients: registration, settings, the client secret (shown again, rotated), deletion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from services.auth.oauth import db
from services.auth.oauth.client_secrets import (
    ClientSecretCipher,
    OAuthHasher,
    new_client_id,
    new_client_secret,
    new_developer_key,
)
from services.auth.oauth.clients import (
    OAuthClient,
    check_redirect_uris_for_grants,
    validate_grant_types,
    validate_redirect_uris,
)
from services.auth.oauth.errors import InvalidScope
from services.auth.oauth.scopes import rights_of, validate_scope_list
from services.auth.oauth.tokens import TokenService
from services.auth.permissions import MANAGEMENT_PERMISSIONS, parse_permissions
from shared.errors import BadRequest, Forbidden

MAX_NAME_LENGTH = 100
CLIENT_TYPES = ("confidential", "public")
DEFAULT_SCOPES = ("read",)


@dataclass(frozen=True)
class AppSettings:
    name: str
    is_confidential: bool
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    granted_permissions: frozenset[str]


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_NAME_LENGTH:
        raise BadRequest(f"name must be a non-empty string of at most {MAX_NAME_LENGTH} characters", target="name")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise BadRequest("name contains control characters", target="name")
    return value.strip()


def _scopes(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest("scopes must be a list of strings", target="scopes")
    try:
        scopes = validate_scope_list(value)
    except InvalidScope:
        raise BadRequest("scopes contains an unknown scope", target="scopes") from None
    if not scopes:
        raise BadRequest("scopes must not be empty", target="scopes")
    return scopes


def _granted_permissions(value: object, grantor_rights: frozenset[str]) -> frozenset[str]:
    """What the client's own tokens (client credentials) may do: data only, and never more than the grantor holds."""
    granted = parse_permissions(value, "permissions")
    if granted & MANAGEMENT_PERMISSIONS:
        raise BadRequest(
            "An app's tokens cover data only; users, API keys and apps cannot be granted to it", target="permissions"
        )
    if not granted <= grantor_rights:
        raise Forbidden("An app cannot be granted permissions you do not hold", target="permissions")
    return granted


def parse_app_settings(body: object, grantor_rights: frozenset[str], current: OAuthClient | None) -> AppSettings:
    """A create (current None) or update body; fields left out of an update keep their value. The rights granted to
    the client's own tokens can never exceed what the user granting them holds."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    unknown = set(body) - {"name", "client_type", "redirect_uris", "scopes", "grant_types", "permissions"}
    if unknown:
        raise BadRequest(f"Unknown field {sorted(unknown)[0]!r}", target=sorted(unknown)[0])
    if current is not None and "client_type" in body:
        raise BadRequest("client_type cannot be changed; create another app", target="client_type")
    client_type = body.get("client_type", "confidential")
    if client_type not in CLIENT_TYPES:
        raise BadRequest("client_type must be confidential or public", target="client_type")
    confidential = current.is_confidential if current is not None else client_type == "confidential"
    name = _name(body.get("name")) if "name" in body or current is None else current.name
    if "redirect_uris" in body:
        redirect_uris = validate_redirect_uris(body["redirect_uris"])
    else:
        redirect_uris = current.redirect_uris if current is not None else ()
    if "scopes" in body:
        scopes = _scopes(body["scopes"])
    else:
        scopes = current.scopes if current is not None else DEFAULT_SCOPES
    if "grant_types" in body:
        grant_types = validate_grant_types(body["grant_types"], confidential)
    else:
        grant_types = current.grant_types if current is not None else ("authorization_code", "refresh_token")
    check_redirect_uris_for_grants(redirect_uris, grant_types)
    if "permissions" in body:
        granted = _granted_permissions(body["permissions"], grantor_rights)
    else:
        granted = current.granted_permissions if current is not None else rights_of(("read",)) & grantor_rights
    return AppSettings(name, confidential, redirect_uris, scopes, grant_types, granted)


def describe_app(client: OAuthClient, row: asyncpg.Record | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client_id": client.client_id,
        "name": client.name,
        "kind": client.kind,
        "client_type": "confidential" if client.is_confidential else "public",
        "redirect_uris": list(client.redirect_uris),
        "scopes": list(client.scopes),
        "grant_types": list(client.grant_types),
        "permissions": sorted(client.granted_permissions),
        "owner_user_id": client.owner_user_id,
    }
    if row is not None:
        for column in ("created_at", "updated_at", "secret_rotated_at"):
            data[column] = row[column].isoformat() if row[column] is not None else None
    return data


class DeveloperApps:
    def __init__(self, hasher: OAuthHasher, cipher: ClientSecretCipher, tokens: TokenService | None = None) -> None:
        self._hasher = hasher
        self._cipher = cipher
        self._tokens = tokens

    async def create(
        self, conn: asyncpg.Connection, owner_user_id: int, settings: AppSettings, kind: str = "app"
    ) -> tuple[str, str | None]:
        """Register the owner as a developer if needed and create the client; its secret is returned in clear."""
        client_id = new_client_id()
        secret = new_client_secret() if settings.is_confidential else None
        async with conn.transaction():
            developer_key = await db.ensure_developer(conn, owner_user_id, new_developer_key())
            await db.insert_client(
                conn,
                {
                    "client_id": client_id,
                    "owner_user_id": owner_user_id,
                    "name": settings.name,
                    "kind": kind,
                    "is_confidential": settings.is_confidential,
                    "redirect_uris": settings.redirect_uris,
                    "scopes": settings.scopes,
                    "grant_types": settings.grant_types,
                    "granted_permissions": settings.granted_permissions,
                    "secret_hash": self._hasher.client_secret(secret) if secret else None,
                    "secret_encrypted": self._cipher.encrypt(secret, developer_key, client_id) if secret else None,
                },
            )
        return client_id, secret

    async def read_secret(self, conn: asyncpg.Connection, client_id: str) -> str | None:
        row = await db.get_client_secret_material(conn, client_id)
        if row is None or row["secret_encrypted"] is None:
            return None
        return self._cipher.decrypt(bytes(row["secret_encrypted"]), bytes(row["secret_key"]), client_id)

    async def rotate_secret(self, conn: asyncpg.Connection, client: OAuthClient) -> str:
        """A new secret at once; the old one stops authenticating now (tokens already issued stay valid)."""
        if not client.is_confidential:
            raise BadRequest("A public client has no secret")
        secret = new_client_secret()
        async with conn.transaction():
            developer_key = await db.get_developer_key(conn, client.owner_user_id)
            assert developer_key is not None
            await db.set_client_secret(
                conn,
                client.client_id,
                self._hasher.client_secret(secret),
                self._cipher.encrypt(secret, developer_key, client.client_id),
            )
        return secret

    async def update(self, conn: asyncpg.Connection, client: OAuthClient, settings: AppSettings) -> None:
        await db.update_client(
            conn,
            client.client_id,
            {
                "name": settings.name,
                "redirect_uris": settings.redirect_uris,
                "scopes": settings.scopes,
                "grant_types": settings.grant_types,
                "granted_permissions": settings.granted_permissions,
            },
        )

    async def delete(self, conn: asyncpg.Connection, client: OAuthClient) -> None:
        """Delete the client after revoking every token it holds (announced to the gateways)."""
        if self._tokens is None:
            raise RuntimeError("deleting a client needs the token service to announce the revocations")
        async with conn.transaction():
            revoked = await db.revoke_client_tokens(conn, client.client_id)
            await db.delete_client(conn, client.client_id)
            await self._tokens.announce(conn, [(row["jti"], row["user_id"]) for row in revoked], "oauth_client_deleted")
