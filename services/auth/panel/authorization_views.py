"""HTML of the Authorized Apps page: the OAuth applications a user allowed, and their api.php access tokens
(seed 000), each with its revoke button. client_name and client_id are chosen by third parties: always escaped."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from services.auth.panel import markup
from services.auth.panel.signin import PanelUser


def apiphp_token_revoke_path(token_id: str) -> str:
    return f"/panel/authorized-apps/apiphp-tokens/{token_id}/revoke"


def oauth_apps(user: PanelUser, consents: Iterable[Any]) -> str:
    table = markup.table(
        ["Application", "Allowed to", "Authorized", ""],
        [
            [
                escape(row["name"]),
                escape(" ".join(row["scopes"])),
                markup.moment(row["created_at"].isoformat()),
                markup.post_button(
                    f"/panel/authorized-apps/{row['client_id']}/revoke", "Revoke access", user, "danger"
                ),
            ]
            for row in consents
        ],
        "You have not authorized any application.",
    )
    note = (
        '<p class="hint">An application is not asked again for what you allowed it; it asks again for anything more, '
        "and after you revoke its access.</p>"
    )
    return f"<h2>OAuth applications</h2>{note}{table}"


def apiphp_tokens(user: PanelUser, tokens: Iterable[dict[str, Any]], truncated: bool) -> str:
    """tokens as ApiPhpTokens.list_tokens describes them (never the token value: only its keyed hash is stored)."""
    table = markup.table(
        ["Application", "Client ID", "Apps", "Created", "Last used", "Expires", ""],
        [
            [
                escape(token["client_name"]),
                f"<code>{escape(token['client_id'])}</code>",
                escape(", ".join(app for app in token["scope"].split(",") if app)),
                markup.moment(token["created_at"]),
                markup.moment(token["last_used_at"]),
                markup.moment(token["expires_at"]),
                markup.post_button(apiphp_token_revoke_path(token["id"]), "Revoke", user, "danger"),
            ]
            for token in tokens
        ],
        "You hold no api.php access token.",
    )
    hint = (
        '<p class="hint">Applications that use the api.php access point hold these tokens. '
        "Revoking one stops it working at once.</p>"
    )
    if truncated:
        hint += '<p class="hint">Only your most recent tokens are shown; the API lists them all.</p>'
    return f"<h2>api.php access tokens</h2>{hint}{table}"
