"""The API Keys pages: list (own keys; every user's for an admin), create (the key
shown once), revoke."""

from __future__ import annotations

from aiohttp import web

from services.auth import api_keys, inputs
from services.auth.keys import CONTEXT
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from shared.errors import BadRequest

KEYS_SHOWN = 500
NOTICES = {"revoked": "The API key was revoked; it stops working at once."}


@panel_page
async def list_keys(request: web.Request, user: SignedInUser) -> Page:
    all_users = request.query.get("all") == "true"
    keys = await api_keys.list_keys(request.app[CONTEXT], user.principal, all_users, KEYS_SHOWN, 0)
    notice = NOTICES.get(request.query.get("done", ""))
    return Page("keys/list.html", {"title": "API Keys", "keys": keys, "all_users": all_users, "notice": notice})


def _new_key_page(name: str = "", expires: str = "", error: str | None = None, status: int = 200) -> Page:
    context = {
        "title": "Create New API Key",
        "name": name,
        "expires": expires,
        "error": error,
        "max_name_length": inputs.MAX_KEY_NAME_LENGTH,
    }
    return Page("keys/new.html", context, status)


@panel_page
async def new_key(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("api_keys", "create")
    return _new_key_page()


@panel_form
async def create_key(request: web.Request, user: SignedInUser, form: Form) -> Page:
    name = (form.get("name") or "").strip()
    expires = (form.get("expires_at") or "").strip()
    try:
        created = await api_keys.create_key(
            request.app[CONTEXT],
            user.principal,
            name=inputs.text({"Name": name}, "Name", inputs.MAX_KEY_NAME_LENGTH) or "",
            expires_at=inputs.expiry(expires or None, "Expiration date"),
            scope=None,
        )
    except BadRequest as error:
        return _new_key_page(name[: inputs.MAX_KEY_NAME_LENGTH], expires[:40], error.message, 400)
    # Shown in this answer only (never stored in clear); the history entry becomes the list, so a reload shows no key.
    context = {"title": "API key created", "created": created, "replace_history_with": "/panel/api-keys"}
    return Page("keys/created.html", context, 201)


@panel_form
async def revoke_key(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    key_id = inputs.path_uuid(request.match_info["id"], "API key")
    await api_keys.revoke_key(request.app[CONTEXT], user.principal, key_id)
    return redirect("/panel/api-keys?done=revoked")
