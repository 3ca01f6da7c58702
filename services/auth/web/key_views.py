"""The API Keys pages: list (own keys; every user's for an admin) with scope and
last use, create (optionally narrowed to a scope; the key shown once), rotate (the new key shown once, the old one
valid for the grace period chosen) and revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from services.auth import api_keys, inputs
from services.auth.keys import CONTEXT
from services.auth.permissions import ACTIONS, RESOURCES, parse_permissions
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from shared.errors import BadRequest

KEYS_SHOWN = 500
NOTICES = {"revoked": "The API key was revoked; it stops working at once."}
GRACE_PERIODS = (
    (0, "None: the old key stops working now"),
    (3600, "1 hour"),
    (86_400, "24 hours"),
    (7 * 86_400, "7 days"),
    (30 * 86_400, "30 days"),
)
DEFAULT_GRACE_SECONDS = 86_400


def scope_grid(user: SignedInUser, chosen: frozenset[str]) -> list[dict[str, Any]]:
    """The permissions a key may be narrowed to: only those its owner holds."""
    rows = []
    for resource in RESOURCES:
        cells = [
            {
                "permission": f"{resource}:{action}",
                "label": f"{resource} {action}",
                "granted": f"{resource}:{action}" in chosen,
                "grantable": user.can(resource, action),
            }
            for action in ACTIONS
        ]
        if any(cell["grantable"] for cell in cells):
            rows.append({"name": resource.replace("_", " ").capitalize(), "cells": cells})
    return rows


@panel_page
async def list_keys(request: web.Request, user: SignedInUser) -> Page:
    all_users = request.query.get("all") == "true"
    keys = await api_keys.list_keys(request.app[CONTEXT], user.principal, all_users, KEYS_SHOWN, 0)
    notice = NOTICES.get(request.query.get("done", ""))
    return Page("keys/list.html", {"title": "API Keys", "keys": keys, "all_users": all_users, "notice": notice})


def _new_key_page(
    user: SignedInUser,
    name: str = "",
    expires: str = "",
    scope: frozenset[str] = frozenset(),
    error: str | None = None,
    status: int = 200,
) -> Page:
    context = {
        "title": "Create New API Key",
        "name": name,
        "expires": expires,
        "grid": scope_grid(user, scope),
        "actions": ACTIONS,
        "error": error,
        "max_name_length": inputs.MAX_KEY_NAME_LENGTH,
    }
    return Page("keys/new.html", context, status)


@panel_page
async def new_key(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("api_keys", "create")
    return _new_key_page(user)


@panel_form
async def create_key(request: web.Request, user: SignedInUser, form: Form) -> Page:
    name = (form.get("name") or "").strip()
    expires = (form.get("expires_at") or "").strip()
    ticked = form.all("scope")
    try:
        scope = parse_permissions(ticked, "scope") if ticked else None
        created = await api_keys.create_key(
            request.app[CONTEXT],
            user.principal,
            name=inputs.text({"Name": name}, "Name", inputs.MAX_KEY_NAME_LENGTH) or "",
            expires_at=inputs.expiry(expires or None, "Expiration date"),
            scope=scope,
        )
    except BadRequest as error:
        kept = frozenset(ticked[:100])
        return _new_key_page(user, name[: inputs.MAX_KEY_NAME_LENGTH], expires[:40], kept, error.message, 400)
    # Shown in this answer only (never stored in clear); the history entry becomes the list, so a reload shows no key.
    context = {"title": "API key created", "created": created, "replace_history_with": "/panel/api-keys"}
    return Page("keys/created.html", context, 201)


@panel_page
async def rotate_form(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("api_keys", "create")
    key = await api_keys.get_key(
        request.app[CONTEXT], user.principal, inputs.path_uuid(request.match_info["id"], "API key")
    )
    context = {
        "title": f"Rotate API key {key['name']}",
        "key": key,
        "grace_periods": GRACE_PERIODS,
        "default_grace": DEFAULT_GRACE_SECONDS,
    }
    return Page("keys/rotate.html", context)


@panel_form
async def rotate_key(request: web.Request, user: SignedInUser, form: Form) -> Page:
    key_id = inputs.path_uuid(request.match_info["id"], "API key")
    grace = inputs.integer(form.get("grace_seconds") or "0", "grace_seconds", 0, api_keys.MAX_GRACE_SECONDS)
    rotated = await api_keys.rotate_key(request.app[CONTEXT], user.principal, key_id, grace)
    context = {
        "title": "API key rotated",
        "created": rotated,
        "previous": rotated["previous"],
        "grace": timedelta(seconds=grace),
        "replace_history_with": "/panel/api-keys",
    }
    return Page("keys/rotated.html", context, 201)


@panel_form
async def revoke_key(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    key_id = inputs.path_uuid(request.match_info["id"], "API key")
    await api_keys.revoke_key(request.app[CONTEXT], user.principal, key_id)
    return redirect("/panel/api-keys?done=revoked")
