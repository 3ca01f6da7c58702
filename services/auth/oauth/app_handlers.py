"""The developer apps API (/api/apps) and the user's authorized apps (/api/authorizations), behind the gateway's
signed principal. A developer sees and changes their own apps; an admin sees all. Someone else's app is a 404.
A third-party app's token manages none of it; it may only withdraw its own grant (as with RFC 7009)."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from services.auth.http_inputs import refuse_app_credential
from services.auth.keys import POOL
from services.auth.oauth import db
from services.auth.oauth.clients import OAuthClient
from services.auth.oauth.developer_apps import DeveloperApps, describe_app, parse_app_settings
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.tokens import ACCESS_CREDENTIAL_KIND
from shared.errors import BadRequest, Forbidden, NotFound
from shared.principal import Principal, principal_from_request

MAX_APPS_LISTED = 500
MAX_CLIENT_ID_LENGTH = 64


def _principal(request: web.Request, action: str) -> Principal:
    principal = principal_from_request(request, request.app[OAUTH].principal_key, request.app[OAUTH].principal_audience)
    refuse_app_credential(principal)
    if principal.user_id is None:
        raise Forbidden("Only a user can manage developer apps and authorizations")
    principal.require("apps", action)
    return principal


async def _json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise BadRequest("The request body must be application/json")
    try:
        return await request.json()
    except (ValueError, LookupError):
        raise BadRequest("The request body is not valid JSON") from None


def _apps(request: web.Request) -> DeveloperApps:
    oauth = request.app[OAUTH]
    return DeveloperApps(oauth.hasher, oauth.secret_cipher, oauth.tokens)


async def _owned_client(
    conn: asyncpg.Connection, request: web.Request, principal: Principal
) -> tuple[OAuthClient, asyncpg.Record]:
    client_id = request.match_info["client_id"]
    row = await db.get_client(conn, client_id) if len(client_id) <= MAX_CLIENT_ID_LENGTH else None
    if row is None or (row["owner_user_id"] != principal.user_id and not principal.is_admin):
        raise NotFound("No such app")
    return OAuthClient.from_record(row), row


async def list_apps(request: web.Request) -> web.Response:
    principal = _principal(request, "read")
    owner = None if principal.is_admin and request.query.get("all") == "true" else principal.user_id
    async with request.app[POOL].acquire() as conn:
        rows = await db.list_clients(conn, owner, MAX_APPS_LISTED)
    return web.json_response({"apps": [describe_app(OAuthClient.from_record(row), row) for row in rows]})


async def create_app(request: web.Request) -> web.Response:
    principal = _principal(request, "create")
    settings = parse_app_settings(await _json(request), principal.permissions, None)
    async with request.app[POOL].acquire() as conn:
        assert principal.user_id is not None
        client_id, secret = await _apps(request).create(conn, principal.user_id, settings)
        row = await db.get_client(conn, client_id)
    body = describe_app(OAuthClient.from_record(row), row)
    body["client_secret"] = secret
    return web.json_response(body, status=201, headers={"Cache-Control": "no-store"})


async def get_app(request: web.Request) -> web.Response:
    """The app's settings with its client secret, as seed 001 shows them ("copy your Client ID and Client Secret")."""
    principal = _principal(request, "read")
    async with request.app[POOL].acquire() as conn:
        client, row = await _owned_client(conn, request, principal)
        secret = await _apps(request).read_secret(conn, client.client_id)
    body = describe_app(client, row)
    body["client_secret"] = secret
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def update_app(request: web.Request) -> web.Response:
    principal = _principal(request, "update")
    body = await _json(request)
    async with request.app[POOL].acquire() as conn:
        client, _ = await _owned_client(conn, request, principal)
        settings = parse_app_settings(body, principal.permissions, client)
        await _apps(request).update(conn, client, settings)
        row = await db.get_client(conn, client.client_id)
    return web.json_response(describe_app(OAuthClient.from_record(row), row))


async def rotate_secret(request: web.Request) -> web.Response:
    principal = _principal(request, "update")
    async with request.app[POOL].acquire() as conn:
        client, _ = await _owned_client(conn, request, principal)
        secret = await _apps(request).rotate_secret(conn, client)
    return web.json_response(
        {"client_id": client.client_id, "client_secret": secret}, headers={"Cache-Control": "no-store"}
    )


async def delete_app(request: web.Request) -> web.Response:
    principal = _principal(request, "delete")
    async with request.app[POOL].acquire() as conn:
        client, _ = await _owned_client(conn, request, principal)
        await _apps(request).delete(conn, client)
    return web.Response(status=204)


def _authorization_principal(request: web.Request) -> Principal:
    """Anyone signed in manages the apps they authorized themselves; no permission is needed for one's own."""
    principal = principal_from_request(request, request.app[OAUTH].principal_key, request.app[OAUTH].principal_audience)
    if principal.user_id is None:
        raise Forbidden("Only a user has authorized apps")
    return principal


async def list_authorizations(request: web.Request) -> web.Response:
    principal = _authorization_principal(request)
    refuse_app_credential(principal)
    user_id = principal.user_id
    assert user_id is not None
    async with request.app[POOL].acquire() as conn:
        rows = await db.list_consents(conn, user_id)
    return web.json_response(
        {
            "authorizations": [
                {
                    "client_id": row["client_id"],
                    "name": row["name"],
                    "scopes": list(row["scopes"]),
                    "created_at": row["created_at"].isoformat(),
                    "updated_at": row["updated_at"].isoformat(),
                }
                for row in rows
            ]
        }
    )


async def revoke_authorization(request: web.Request) -> web.Response:
    """Withdraw an app's access: the consent and every token it holds for this user, announced to the gateways."""
    principal = _authorization_principal(request)
    client_id = request.match_info["client_id"]
    # An OAuth app may withdraw its own grant, never another app's (api.php client ids are anyone's to choose).
    if principal.credential_kind != ACCESS_CREDENTIAL_KIND or principal.client_id != client_id:
        refuse_app_credential(principal)
    assert principal.user_id is not None
    async with request.app[POOL].acquire() as conn:
        if len(client_id) > MAX_CLIENT_ID_LENGTH or not await db.has_consent(conn, principal.user_id, client_id):
            raise NotFound("No such authorization")
        await request.app[OAUTH].tokens.revoke_user_client(conn, principal.user_id, client_id, "oauth_app_revoked")
    return web.Response(status=204)
