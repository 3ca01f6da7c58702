"""Plugin authorization (docs/oauth.md): a plugin's client (client credentials only) and the credentials a runner
injects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from services.auth import db as auth_db
from services.auth.keys import CONFIG
from services.auth.oauth import db
from services.auth.oauth.client_secrets import ClientSecretCipher, OAuthHasher
from services.auth.oauth.clients import OAuthClient
from services.auth.oauth.developer_apps import AppSettings, DeveloperApps
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.scopes import rights_of, validate_scope_list
from services.auth.origin import audit_actor
from services.auth.permissions import effective_permissions, parse_permissions
from shared.errors import BadRequest, Forbidden, NotFound
from shared.principal import Principal

DEFAULT_PLUGIN_SCOPES = ("read", "write")
MAX_PLUGIN_NAME_LENGTH = 100
MAX_CLIENT_ID_LENGTH = 64


@dataclass(frozen=True)
class PluginCredentials:
    """What a plugin receives in its environment."""

    client_id: str
    client_secret: str
    api_base_url: str

    def __repr__(self) -> str:
        return f"PluginCredentials(client_id={self.client_id!r}, api_base_url={self.api_base_url!r})"

    def environment(self) -> dict[str, str]:
        return {
            "OAUTH_CLIENT_ID": self.client_id,
            "OAUTH_CLIENT_SECRET": self.client_secret,
            "API_BASE_URL": self.api_base_url,
        }


async def register_plugin(
    conn: asyncpg.Connection,
    apps: DeveloperApps,
    *,
    name: str,
    owner_username: str,
    permissions: list[str] | None,
    scopes: list[str] | None,
) -> tuple[str, str]:
    """Create the plugin's client, owned by the admin who registers it. Its tokens get the permissions that admin
    grants here (default: read everything), never more than the admin holds."""
    if not name or len(name) > MAX_PLUGIN_NAME_LENGTH or any(ord(char) < 0x20 for char in name):
        raise BadRequest(f"The plugin name must be 1 to {MAX_PLUGIN_NAME_LENGTH} printable characters")
    owner_id = await auth_db.get_user_id_by_username(conn, owner_username)
    owner = await db.get_user_rights(conn, owner_id) if owner_id is not None else None
    if owner is None or not owner["is_active"]:
        raise NotFound(f"No active user named {owner_username!r}")
    if not owner["is_admin"]:
        raise Forbidden("Only an admin can register a plugin")
    owner_rights = effective_permissions(owner["is_admin"], owner["permissions"], None)
    granted = parse_permissions(permissions, "permissions") if permissions is not None else rights_of(("read",))
    if not granted <= owner_rights:
        raise Forbidden("A plugin cannot be granted permissions its registering admin does not hold")
    settings = AppSettings(
        name=name,
        is_confidential=True,
        redirect_uris=(),
        scopes=validate_scope_list(scopes) if scopes else DEFAULT_PLUGIN_SCOPES,
        grant_types=("client_credentials",),
        granted_permissions=granted,
    )
    client_id, secret = await apps.create(conn, owner["id"], settings, kind="plugin")
    assert secret is not None
    return client_id, secret


async def plugin_credentials(
    conn: asyncpg.Connection, cipher: ClientSecretCipher, hasher: OAuthHasher, name: str, api_base_url: str
) -> PluginCredentials:
    client_id = await db.get_plugin_client_id(conn, name)
    if client_id is None:
        raise NotFound(f"No plugin named {name!r}; register it first")
    secret = await DeveloperApps(hasher, cipher).read_secret(conn, client_id)
    if secret is None:
        raise NotFound(f"The secret of plugin {name!r} cannot be decrypted with this server's ENCRYPTION_KEY")
    return PluginCredentials(client_id, secret, api_base_url)


PLUGINS_SHOWN = 500


def plugin_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "client_id": row["client_id"],
        "name": row["name"],
        "scopes": list(row["scopes"]),
        "permissions": sorted(row["granted_permissions"]),
        "owner": row["owner_username"],
        "created_at": row["created_at"].isoformat(),
        "secret_rotated_at": row["secret_rotated_at"].isoformat() if row["secret_rotated_at"] else None,
    }


def plugins_of(app: web.Application) -> Plugins:
    oauth = app[OAUTH]
    return Plugins(DeveloperApps(oauth.hasher, oauth.secret_cipher, oauth.tokens), app[CONFIG].api_base_url)


class Plugins:
    """Registering, listing, re-keying and revoking plugins for a principal holding the plugins permissions
    (the management API and the control panel both come here). A plugin is registered by an admin user: an admin's
    API key narrowed to a scope (no longer an admin credential) still registers, within that scope."""

    def __init__(self, apps: DeveloperApps, api_base_url: str) -> None:
        self._apps = apps
        self.api_base_url = api_base_url

    @staticmethod
    def _require(actor: Principal, action: str) -> None:
        actor.require("plugins", action)
        if actor.user_id is None:
            raise Forbidden("Only a user may manage plugins")

    async def register(
        self,
        conn: asyncpg.Connection,
        actor: Principal,
        name: str,
        permissions: list[str] | None,
        scopes: list[str] | None,
    ) -> PluginCredentials:
        """The plugin's credentials, its secret in clear this once. A credential narrowed by a scope cannot give
        the plugin rights beyond that scope."""
        self._require(actor, "create")
        granted = parse_permissions(permissions, "permissions") if permissions is not None else rights_of(("read",))
        if not granted <= actor.permissions:
            raise Forbidden("A plugin cannot be granted permissions the registering credential does not hold")
        async with conn.transaction():
            client_id, secret = await register_plugin(
                conn,
                self._apps,
                name=name,
                owner_username=actor.username or "",
                permissions=sorted(granted),
                scopes=scopes,
            )
            await _audit(conn, "plugin.registered", actor, client_id, {"name": name, "permissions": sorted(granted)})
        return PluginCredentials(client_id, secret, self.api_base_url)

    async def list_all(self, conn: asyncpg.Connection, actor: Principal) -> list[dict[str, Any]]:
        self._require(actor, "read")
        return [plugin_view(row) for row in await db.list_plugin_clients(conn, PLUGINS_SHOWN)]

    async def _plugin(self, conn: asyncpg.Connection, client_id: str) -> OAuthClient:
        row = await db.get_client(conn, client_id) if len(client_id) <= MAX_CLIENT_ID_LENGTH else None
        if row is None or row["kind"] != "plugin":
            raise NotFound("No such plugin")
        return OAuthClient.from_record(row)

    async def rotate_secret(self, conn: asyncpg.Connection, actor: Principal, client_id: str) -> PluginCredentials:
        """A new secret (a plugin host reloading a plugin gets fresh credentials this way); the old one stops."""
        self._require(actor, "update")
        client = await self._plugin(conn, client_id)
        async with conn.transaction():
            secret = await self._apps.rotate_secret(conn, client)
            await _audit(conn, "plugin.secret_rotated", actor, client.client_id, {"name": client.name})
        return PluginCredentials(client.client_id, secret, self.api_base_url)

    async def revoke(self, conn: asyncpg.Connection, actor: Principal, client_id: str) -> None:
        """The plugin's client is deleted and every token it holds revoked (announced to the gateways)."""
        self._require(actor, "delete")
        client = await self._plugin(conn, client_id)
        async with conn.transaction():
            await self._apps.delete(conn, client)
            await _audit(conn, "plugin.revoked", actor, client.client_id, {"name": client.name})


async def _audit(
    conn: asyncpg.Connection, event: str, actor: Principal, client_id: str, details: dict[str, Any]
) -> None:
    await auth_db.insert_audit(conn, event, credential_id=client_id, details=details, **audit_actor(actor))
