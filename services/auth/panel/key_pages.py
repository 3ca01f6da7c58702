"""The API Keys pages: list (own keys; every user's for an admin), create (the key shown once), revoke."""

from __future__ import annotations

from aiohttp import web

from services.auth import api_keys, inputs
from services.auth.keys import CONTEXT
from services.auth.panel import key_views, markup
from services.auth.panel.forms import Form
from services.auth.panel.guards import panel_form, panel_page
from services.auth.panel.responses import html, redirect
from services.auth.panel.signin import PanelUser
from shared.errors import BadRequest

KEYS_SHOWN = 500
NOTICES = {"revoked": "The API key was revoked; it stops working at once."}


@panel_page
async def list_keys(request: web.Request, user: PanelUser) -> web.StreamResponse:
    all_users = request.query.get("all") == "true"
    keys = await api_keys.list_keys(request.app[CONTEXT], user.principal, all_users, KEYS_SHOWN, 0)
    notice = NOTICES.get(request.query.get("done", ""))
    return html(markup.page("API Keys", key_views.key_list(user, keys, all_users), user, notice=notice))


@panel_page
async def new_key(request: web.Request, user: PanelUser) -> web.StreamResponse:
    user.principal.require("api_keys", "create")
    return html(markup.page("Create New API Key", key_views.new_key_form(user), user))


@panel_form
async def create_key(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
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
        form_again = key_views.new_key_form(user, name[: inputs.MAX_KEY_NAME_LENGTH], expires[:40])
        return html(markup.page("Create New API Key", form_again, user, error=error.message), status=400)
    # Shown in this answer only (never stored in clear); the history entry becomes the list, so a reload shows no key.
    page = markup.page("API key created", key_views.created_key(created), user, replace_history_with="/panel/api-keys")
    return html(page, status=201)


@panel_form
async def revoke_key(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    key_id = inputs.path_uuid(request.match_info["id"], "API key")
    await api_keys.revoke_key(request.app[CONTEXT], user.principal, key_id)
    return redirect("/panel/api-keys?done=revoked")
