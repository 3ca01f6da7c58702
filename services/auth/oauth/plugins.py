"""Plugin authorization (docs/oauth.md): a plugin's client (client credentials only) and the credentials a runner
injects."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.auth import db as auth_db
from services.auth.oauth import db
from services.auth.oauth.client_secrets import ClientSecretCipher, OAuthHasher
from services.auth.oauth.developer_apps import AppSettings, DeveloperApps
from services.auth.oauth.scopes import rights_of, validate_scope_list
from services.auth.permissions import effective_permissions, parse_permissions
from shared.errors import BadRequest, Forbidden, NotFound

DEFAULT_PLUGIN_SCOPES = ("read", "write")
MAX_PLUGIN_NAME_LENGTH = 100


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
