"""The Developer Apps pages: list, create (name, redirect URIs, scopes, grant types, confidential or public), the
app's settings with its Client ID and Client Secret, secret rotation and deletion. The permissions are the JSON API's
(/api/apps): apps:read, apps:create, apps:update, apps:delete; someone else's app is "not found" unless one is an
admin."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from services.auth.keys import POOL
from services.auth.oauth import db
from services.auth.oauth.clients import MAX_REDIRECT_URIS, OAuthClient
from services.auth.oauth.developer_apps import DeveloperApps, describe_app, parse_app_settings
from services.auth.oauth.keys import OAUTH
from services.auth.panel import app_views, markup
from services.auth.panel.forms import Form
from services.auth.panel.guards import panel_form, panel_page
from services.auth.panel.responses import html, redirect
from services.auth.panel.signin import PanelUser
from shared.errors import BadRequest, NotFound

APPS_SHOWN = 500
MAX_CLIENT_ID_LENGTH = 64
MAX_REDIRECT_URIS_FIELD = (MAX_REDIRECT_URIS + 1) * 2001
NOTICES = {
    "created": "The app was created. Copy its Client ID and Client Secret into your application.",
    "rotated": "A new Client Secret was made; the previous one no longer works.",
    "deleted": "The app was deleted and its tokens revoked.",
}


def _developer_apps(request: web.Request) -> DeveloperApps:
    oauth = request.app[OAUTH]
    return DeveloperApps(oauth.hasher, oauth.secret_cipher, oauth.tokens)


async def _owned_app(conn: asyncpg.Connection, request: web.Request, user: PanelUser) -> tuple[OAuthClient, Any]:
    client_id = request.match_info["client_id"]
    row = await db.get_client(conn, client_id) if len(client_id) <= MAX_CLIENT_ID_LENGTH else None
    if row is None or (row["owner_user_id"] != user.user_id and not user.principal.is_admin):
        raise NotFound("No such app")
    return OAuthClient.from_record(row), row


@panel_page
async def list_apps(request: web.Request, user: PanelUser) -> web.StreamResponse:
    user.principal.require("apps", "read")
    all_users = user.principal.is_admin and request.query.get("all") == "true"
    async with request.app[POOL].acquire() as conn:
        rows = await db.list_clients(conn, None if all_users else user.user_id, APPS_SHOWN)
    apps = [describe_app(OAuthClient.from_record(row), row) for row in rows]
    notice = NOTICES.get(request.query.get("done", ""))
    return html(markup.page("Developer Apps", app_views.app_list(user, apps, all_users), user, notice=notice))


@panel_page
async def new_app(request: web.Request, user: PanelUser) -> web.StreamResponse:
    user.principal.require("apps", "create")
    return html(markup.page("Create New App", app_views.new_app_form(user), user))


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
async def create_app(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    user.principal.require("apps", "create")
    body = _app_body(form)
    try:
        settings = parse_app_settings(body, user.principal.permissions, None)
    except BadRequest as error:
        page = markup.page("Create New App", app_views.new_app_form(user, body), user, error=error.message)
        return html(page, status=400)
    async with request.app[POOL].acquire() as conn:
        client_id, _ = await _developer_apps(request).create(conn, user.user_id, settings)
    return redirect(f"/panel/apps/{client_id}?done=created")


@panel_page
async def app_settings(request: web.Request, user: PanelUser) -> web.StreamResponse:
    user.principal.require("apps", "read")
    async with request.app[POOL].acquire() as conn:
        client, row = await _owned_app(conn, request, user)
        secret = await _developer_apps(request).read_secret(conn, client.client_id)
    notice = NOTICES.get(request.query.get("done", ""))
    content = app_views.app_settings(user, describe_app(client, row), secret)
    return html(markup.page(client.name, content, user, notice=notice))


@panel_form
async def rotate_secret(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    user.principal.require("apps", "update")
    async with request.app[POOL].acquire() as conn:
        client, _ = await _owned_app(conn, request, user)
        await _developer_apps(request).rotate_secret(conn, client)
    return redirect(f"/panel/apps/{client.client_id}?done=rotated")


@panel_form
async def delete_app(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    user.principal.require("apps", "delete")
    async with request.app[POOL].acquire() as conn:
        client, _ = await _owned_app(conn, request, user)
        await _developer_apps(request).delete(conn, client)
    return redirect("/panel/apps?done=deleted")
