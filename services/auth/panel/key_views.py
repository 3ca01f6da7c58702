"""HTML of the API Keys pages (seed 001: "Creating an API Key")."""

from __future__ import annotations

from html import escape
from typing import Any

from services.auth.inputs import MAX_KEY_NAME_LENGTH
from services.auth.panel import markup
from services.auth.panel.signin import PanelUser


def key_list(user: PanelUser, keys: list[dict[str, Any]], all_users: bool) -> str:
    headings = ["Name", "Prefix", "Created", "Expires", "Last used", "Status", ""]
    if all_users:
        headings.insert(1, "User")
    rows = []
    for key in keys:
        action = ""
        if key["status"] == "active" and user.can("api_keys", "delete"):
            action = markup.post_button(f"/panel/api-keys/{key['id']}/revoke", "Revoke", user, "danger")
        row = [
            escape(key["name"]),
            f"<code>{escape(key['prefix'])}…</code>",
            markup.moment(key["created_at"]),
            markup.moment(key["expires_at"]),
            markup.moment(key["last_used_at"]),
            f'<span class="status-{escape(key["status"])}">{escape(key["status"].capitalize())}</span>',
            action,
        ]
        if all_users:
            row.insert(1, escape(key["username"]))
        rows.append(row)
    parts = []
    if user.can("api_keys", "create"):
        parts.append('<p><a class="button" href="/panel/api-keys/new">Create New API Key</a></p>')
    if user.principal.is_admin:
        parts.append(
            '<p><a href="/panel/api-keys">Show my keys</a></p>'
            if all_users
            else '<p><a href="/panel/api-keys?all=true">Show every user\'s keys</a></p>'
        )
    parts.append(markup.table(headings, rows, "No API keys yet."))
    return "".join(parts)


def new_key_form(user: PanelUser, name: str = "", expires: str = "") -> str:
    return (
        f'<form method="post" action="/panel/api-keys">{markup.csrf_field(user)}'
        '<label for="name">Name</label>'
        f'<input type="text" id="name" name="name" required maxlength="{MAX_KEY_NAME_LENGTH}" value="{escape(name)}" '
        'placeholder="e.g. Inventory sync script">'
        '<p class="hint">A descriptive name, so you know later what uses this key.</p>'
        '<label for="expires_at">Expiration date (optional)</label>'
        f'<input type="date" id="expires_at" name="expires_at" value="{escape(expires)}">'
        '<p class="hint">Leave empty for a key that does not expire. The key stops working at 00:00 UTC that day.</p>'
        '<div class="actions"><button type="submit">Create API Key</button>'
        '<a href="/panel/api-keys">Cancel</a></div></form>'
    )


def created_key(created: dict[str, Any]) -> str:
    expires = markup.moment(created["expires_at"], "never")
    return (
        '<p class="warning" role="alert"><strong>Copy the key now.</strong> '
        "It won't be shown again: only its prefix is kept.</p>"
        + markup.secret_box("new_api_key", "Your new API key", created["key"])
        + f'<p class="hint">Name: {escape(created["name"])} · Expires: {expires}</p>'
        '<p class="hint">Send it in the <code>X-API-Key</code> header of each request.</p>'
        '<p><a href="/panel/api-keys">Back to API Keys</a></p>'
    )
