"""The Plugins page (admins; plugin authorization): register a plugin (its client id, and its secret shown
once, with the variables a plugin host injects: OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, API_BASE_URL), give it a new
secret, revoke it. The same operations as /api/plugins, with the same permissions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.auth.keys import POOL
from services.auth.oauth.plugins import MAX_PLUGIN_NAME_LENGTH, PluginCredentials, plugins_of
from services.auth.oauth.scopes import describe
from services.auth.permissions import ACTIONS, DATA_RESOURCES
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from shared.errors import ApiError

PLUGIN_SCOPES = ("read", "write")
NOTICES = {"revoked": "The plugin was revoked: its client and every token it held no longer work."}


def _grid(user: SignedInUser, chosen: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": resource.capitalize(),
            "cells": [
                {
                    "permission": f"{resource}:{action}",
                    "label": f"{resource} {action}",
                    "granted": f"{resource}:{action}" in chosen,
                    "grantable": user.can(resource, action),
                }
                for action in ACTIONS
            ],
        }
        for resource in DATA_RESOURCES
    ]


def _require(user: SignedInUser, action: str) -> None:
    user.principal.require("plugins", action)


async def _list_page(
    request: web.Request,
    user: SignedInUser,
    *,
    name: str = "",
    permissions: frozenset[str] | None = None,
    scopes: tuple[str, ...] = PLUGIN_SCOPES,
    error: str | None = None,
    status: int = 200,
) -> Page:
    async with request.app[POOL].acquire() as conn:
        plugins = await plugins_of(request.app).list_all(conn, user.principal)
    chosen = permissions if permissions is not None else frozenset(f"{resource}:read" for resource in DATA_RESOURCES)
    context = {
        "title": "Plugins",
        "plugins": plugins,
        "name": name,
        "grid": _grid(user, chosen),
        "actions": ACTIONS,
        "scope_options": [(scope, f"{scope}: {describe(scope)}") for scope in PLUGIN_SCOPES],
        "scopes": scopes,
        "max_name_length": MAX_PLUGIN_NAME_LENGTH,
        "api_base_url": plugins_of(request.app).api_base_url,
        "notice": NOTICES.get(request.query.get("done", "")),
        "error": error,
    }
    return Page("plugins/list.html", context, status)


@panel_page
async def list_plugins(request: web.Request, user: SignedInUser) -> Page:
    _require(user, "read")
    return await _list_page(request, user)


def _credentials_page(title: str, name: str, credentials: PluginCredentials) -> Page:
    context = {
        "title": title,
        "name": name,
        "environment": credentials.environment(),
        "replace_history_with": "/panel/plugins",
    }
    return Page("plugins/credentials.html", context, 201)


@panel_form
async def register_plugin(request: web.Request, user: SignedInUser, form: Form) -> Page:
    _require(user, "create")
    name = (form.get("name") or "").strip()
    permissions = form.all("permission")
    scopes = [scope for scope in form.all("scopes") if scope in PLUGIN_SCOPES]
    try:
        async with request.app[POOL].acquire() as conn:
            credentials = await plugins_of(request.app).register(
                conn, user.principal, name, permissions, scopes or None
            )
    except ApiError as error:
        return await _list_page(
            request,
            user,
            name=name[:MAX_PLUGIN_NAME_LENGTH],
            permissions=frozenset(permissions[:100]),
            scopes=tuple(scopes),
            error=error.message,
            status=error.status,
        )
    return _credentials_page(f"Plugin {name} registered", name, credentials)


@panel_form
async def rotate_secret(request: web.Request, user: SignedInUser, form: Form) -> Page:
    _require(user, "update")
    async with request.app[POOL].acquire() as conn:
        credentials = await plugins_of(request.app).rotate_secret(conn, user.principal, request.match_info["client_id"])
    return _credentials_page("New plugin secret", "", credentials)


@panel_form
async def revoke_plugin(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    _require(user, "delete")
    async with request.app[POOL].acquire() as conn:
        await plugins_of(request.app).revoke(conn, user.principal, request.match_info["client_id"])
    return redirect("/panel/plugins?done=revoked")
