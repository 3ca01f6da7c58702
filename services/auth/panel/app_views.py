"""HTML of the Developer Apps pages (seed 001: "copy your Client ID and Client Secret from the application
settings")."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from services.auth.oauth.clients import GRANT_TYPES, MAX_REDIRECT_URIS
from services.auth.oauth.developer_apps import MAX_NAME_LENGTH
from services.auth.oauth.scopes import describe
from services.auth.panel import markup
from services.auth.panel.signin import PanelUser

OFFERED_SCOPES = ("read", "write", "shop")
GRANT_LABELS = {
    "authorization_code": "Authorization code (users sign in and consent)",
    "refresh_token": "Refresh token",
    "client_credentials": "Client credentials (the app acts for itself; confidential apps only)",
}


def app_list(user: PanelUser, apps: list[dict[str, Any]], all_users: bool) -> str:
    rows = [
        [
            f'<a href="/panel/apps/{escape(app["client_id"])}">{escape(app["name"])}</a>',
            f"<code>{escape(app['client_id'])}</code>",
            escape(app["client_type"].capitalize()),
            escape(" ".join(app["scopes"])),
            markup.moment(app.get("created_at")),
        ]
        for app in apps
    ]
    parts = []
    if user.can("apps", "create"):
        parts.append('<p><a class="button" href="/panel/apps/new">Create New App</a></p>')
    if user.principal.is_admin:
        parts.append(
            '<p><a href="/panel/apps">Show my apps</a></p>'
            if all_users
            else '<p><a href="/panel/apps?all=true">Show every user\'s apps</a></p>'
        )
    parts.append(markup.table(["Name", "Client ID", "Type", "Scopes", "Created"], rows, "No apps yet."))
    return "".join(parts)


def _checkboxes(name: str, options: Iterable[tuple[str, str]], chosen: Iterable[str]) -> str:
    selected = set(chosen)
    return "".join(
        f'<label class="check"><input type="checkbox" name="{escape(name)}" value="{escape(value)}"'
        f"{' checked' if value in selected else ''}> {escape(label)}</label><br>"
        for value, label in options
    )


def new_app_form(user: PanelUser, values: dict[str, Any] | None = None) -> str:
    values = values or {
        "name": "",
        "client_type": "confidential",
        "redirect_uris": [],
        "scopes": ["read"],
        "grant_types": ["authorization_code", "refresh_token"],
    }
    client_type = values.get("client_type", "confidential")
    radios = "".join(
        f'<label class="check"><input type="radio" name="client_type" value="{kind}"'
        f"{' checked' if client_type == kind else ''}> {label}</label>"
        for kind, label in (
            ("confidential", "Confidential (a server that keeps a Client Secret)"),
            ("public", "Public (a browser or mobile app; no secret, PKCE)"),
        )
    )
    return (
        f'<form method="post" action="/panel/apps">{markup.csrf_field(user)}'
        '<label for="name">Name</label>'
        f'<input type="text" id="name" name="name" required maxlength="{MAX_NAME_LENGTH}" '
        f'value="{escape(values.get("name", ""))}">'
        f"<fieldset><legend>Client type</legend>{radios}</fieldset>"
        '<label for="redirect_uris">Redirect URIs</label>'
        f'<textarea id="redirect_uris" name="redirect_uris" rows="3" placeholder="https://app.example.com/callback">'
        f"{escape(chr(10).join(values.get('redirect_uris', [])))}</textarea>"
        f'<p class="hint">One per line, at most {MAX_REDIRECT_URIS}; https, or http on a loopback address.</p>'
        "<fieldset><legend>Scopes</legend>"
        + _checkboxes("scopes", ((scope, f"{scope}: {describe(scope)}") for scope in OFFERED_SCOPES), values["scopes"])
        + "</fieldset><fieldset><legend>Grant types</legend>"
        + _checkboxes("grant_types", ((grant, GRANT_LABELS[grant]) for grant in GRANT_TYPES), values["grant_types"])
        + '</fieldset><div class="actions"><button type="submit">Create App</button>'
        '<a href="/panel/apps">Cancel</a></div></form>'
    )


def app_settings(user: PanelUser, app: dict[str, Any], secret: str | None) -> str:
    client_id = app["client_id"]
    uris = "".join(f"<li><code>{escape(uri)}</code></li>" for uri in app["redirect_uris"]) or "<li>none</li>"
    parts = [
        f"<p>Type: {escape(app['client_type'].capitalize())} · Created {markup.moment(app.get('created_at'))}</p>",
        markup.secret_box("client_id", "Client ID", client_id),
    ]
    if app["client_type"] == "confidential":
        if secret is not None:
            parts.append(markup.secret_box("client_secret", "Client Secret", secret))
            parts.append('<p class="hint">Keep the Client Secret on your server; never put it in a browser.</p>')
        else:
            parts.append('<p class="error">The Client Secret cannot be shown; rotate it to get a new one.</p>')
        if user.can("apps", "update"):
            parts.append(
                markup.post_button(f"/panel/apps/{client_id}/secret/rotate", "Rotate Client Secret", user, "secondary")
                + '<p class="hint">Rotating makes a new secret at once; the current one stops working.</p>'
            )
    parts.append(f"<h2>Redirect URIs</h2><ul>{uris}</ul>")
    parts.append(f"<h2>Scopes</h2><p>{escape(' '.join(app['scopes']))}</p>")
    parts.append(f"<h2>Grant types</h2><p>{escape(', '.join(app['grant_types']))}</p>")
    if user.can("apps", "delete"):
        parts.append(
            "<h2>Delete</h2><p>Deleting the app revokes every token it holds.</p>"
            + markup.post_button(f"/panel/apps/{client_id}/delete", "Delete App", user, "danger")
        )
    parts.append('<p><a href="/panel/apps">Back to Developer Apps</a></p>')
    return "".join(parts)
