"""The Developer Apps pages: list, create (name, redirect URIs, scopes, grant types, confidential or public), the
app's settings with its Client ID and Client Secret (docs/api.md: developers "copy the Client ID and Client
Secret" from it), secret rotation and deletion. The permissions are the JSON API's (/api/apps): apps:read,
apps:create, apps:update, apps:delete; someone else's app is "not found" unless one is an admin."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from services.auth.keys import POOL
from services.auth.oauth import db
from services.auth.oauth.clients import GRANT_TYPES, MAX_REDIRECT_URIS, OAuthClient
from services.auth.oauth.developer_apps import MAX_NAME_LENGTH, DeveloperApps, describe_app, parse_app_settings
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.scopes import describe
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from shared.errors import BadRequest, NotFound

APPS_SHOWN = 500
MAX_CLIENT_ID_LENGTH = 64
MAX_REDIRECT_URIS_FIELD = (MAX_REDIRECT_URIS + 1) * 2001
OFFERED_SCOPES = ("read", "write", "shop")
GRANT_LABELS = {
    "authorization_code": "Authorization code (users sign in and consent)",
    "refresh_token": "Refresh token",
    "client_credentials": "Client credentials (the app acts for itself; confidential apps only)",
}
CLIENT_TYPES = (
    ("confidential", "Confidential (a server that keeps a Client Secret)"),
    ("public", "Public (a browser or mobile app; no secret, PKCE)"),
)
NOTICES = {
    "created": "The app was created. Copy its Client ID and Client Secret into your application.",
    "rotated": "A new Client Secret was made; the previous one no longer works.",
    "deleted": "The app was deleted and its tokens revoked.",
}
NEW_APP = {
    "name": "",
    "client_type": "confidential",
    "redirect_uris": [],
    "scopes": ["read"],
    "grant_types": ["authorization_code", "refresh_token"],
}


def developer_apps(request: web.Request) -> DeveloperApps:
    oauth = request.app[OAUTH]
    return DeveloperApps(oauth.hasher, oauth.secret_cipher, oauth.tokens)


async def _owned_app(
    conn: asyncpg.Connection, request: web.Request, user: SignedInUser
) -> tuple[OAuthClient, asyncpg.Record]:
    client_id = request.match_info["client_id"]
    row = await db.get_client(conn, client_id) if len(client_id) <= MAX_CLIENT_ID_LENGTH else None
    if row is None or (row["owner_user_id"] != user.user_id and not user.principal.is_admin):
        raise NotFound("No such app")
    return OAuthClient.from_record(row), row


@panel_page
async def list_apps(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("apps", "read")
    all_users = user.principal.is_admin and request.query.get("all") == "true"
    async with request.app[POOL].acquire() as conn:
        rows = await db.list_clients(conn, None if all_users else user.user_id, APPS_SHOWN)
    context = {
        "title": "Developer Apps",
        "apps": [describe_app(OAuthClient.from_record(row), row) for row in rows],
        "all_users": all_users,
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("apps/list.html", context)


def _new_app_page(values: dict[str, Any], error: str | None = None, status: int = 200) -> Page:
    context = {
        "title": "Create New App",
        "values": values,
        "error": error,
        "client_types": CLIENT_TYPES,
        "scope_options": [(scope, f"{scope}: {describe(scope)}") for scope in OFFERED_SCOPES],
        "grant_options": [(grant, GRANT_LABELS[grant]) for grant in GRANT_TYPES],
        "max_name_length": MAX_NAME_LENGTH,
        "max_redirect_uris": MAX_REDIRECT_URIS,
    }
    return Page("apps/new.html", context, status)


@panel_page
async def new_app(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("apps", "create")
    return _new_app_page(NEW_APP)


def _app_body(form: Form) -> dict[str, Any]:
    raw_uris = form.get("redirect_uris") or ""
    if len(raw_uris) > MAX_REDIRECT_URIS_FIELD:
        raise BadRequest("Too many redirect URIs", target="redirect_uris")
    return {
        "name": (form.get("name") or "").strip(),
        "client_type": form.get("client_type") or "confidential",
        "redirect_uris": [line.strip() for line in raw_uris.splitlines() if line.strip()],
        "scopes": form.all("scopes"),
        "grant_types": form.all("grant_types"),
    }


@panel_form
async def create_app(request: web.Request, user: SignedInUser, form: Form) -> Page | web.StreamResponse:
    user.principal.require("apps", "create")
    body = _app_body(form)
    try:
        settings = parse_app_settings(body, user.principal.permissions, None)
    except BadRequest as error:
        return _new_app_page(body, error.message, 400)
    async with request.app[POOL].acquire() as conn:
        client_id, _ = await developer_apps(request).create(conn, user.user_id, settings)
    return redirect(f"/panel/apps/{client_id}?done=created")


@panel_page
async def app_settings(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("apps", "read")
    async with request.app[POOL].acquire() as conn:
        client, row = await _owned_app(conn, request, user)
        secret = await developer_apps(request).read_secret(conn, client.client_id)
    context = {
        "title": client.name,
        "app": describe_app(client, row),
        "secret": secret,
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("apps/settings.html", context)


@panel_form
async def rotate_secret(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    user.principal.require("apps", "update")
    async with request.app[POOL].acquire() as conn:
        client, _ = await _owned_app(conn, request, user)
        await developer_apps(request).rotate_secret(conn, client)
    return redirect(f"/panel/apps/{client.client_id}?done=rotated")


@panel_form
async def delete_app(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    user.principal.require("apps", "delete")
    async with request.app[POOL].acquire() as conn:
        client, _ = await _owned_app(conn, request, user)
        await developer_apps(request).delete(conn, client)
    return redirect("/panel/apps?done=deleted")
