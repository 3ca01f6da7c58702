"""The HTML of the login, consent and error pages. Every value is escaped; the pages load nothing external."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from services.auth.oauth.authorization import AuthorizationRequest
from services.auth.oauth.scopes import describe

_STYLE = """body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;
padding:.4rem}button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}.error{color:#a00}li{margin:.3rem 0}"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def login_page(csrf_token: str, next_url: str, error: str | None = None) -> str:
    message = f'<p class="error">{escape(error)}</p>' if error else ""
    return _page(
        "Sign in",
        f"<h1>Sign in</h1>{message}"
        '<form method="post" action="/auth/login">'
        f"{_hidden('csrf_token', csrf_token)}{_hidden('next', next_url)}"
        '<label for="username">Username</label>'
        '<input type="text" id="username" name="username" autocomplete="username" required maxlength="64">'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password" required '
        'maxlength="256"><button type="submit">Sign in</button></form>',
    )


def _scope_item(scope: str, granted: tuple[str, ...]) -> str:
    new = ' <strong class="new">(new)</strong>' if granted and scope not in granted else ""
    return f"<li>{escape(describe(scope))} <code>{escape(scope)}</code>{new}</li>"


def consent_page(request: AuthorizationRequest, username: str, csrf_token: str, granted: tuple[str, ...] = ()) -> str:
    """granted: what the user allowed this application before; the scopes beyond it are marked new."""
    items = "".join(_scope_item(scope, granted) for scope in request.scopes)
    hidden = "".join(_hidden(name, value) for name, value in request.as_params().items())
    asks = "You authorized it before; it now asks for more:" if granted else "The application asks to:"
    return _page(
        "Authorize application",
        f"<h1>{escape(request.client.name)} wants to access your account</h1>"
        f"<p>Signed in as <strong>{escape(username)}</strong>. {asks}</p><ul>{items}</ul>"
        f"<p>It will be sent back to <code>{escape(request.redirect_uri)}</code>. Once allowed, it is not asked "
        "again for these permissions until you revoke its access on the authorized applications page.</p>"
        f'<form method="post" action="/auth/oauth/authorize">{hidden}{_hidden("csrf_token", csrf_token)}'
        '<button type="submit" name="decision" value="allow">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></form>'
        f'<form method="post" action="/auth/logout">{_hidden("csrf_token", csrf_token)}'
        '<button type="submit">Sign out</button></form>',
    )


def error_page(message: str) -> str:
    return _page(
        "Authorization error",
        f'<h1>This request cannot be authorized</h1><p class="error">{escape(message)}</p>'
        "<p>You were not sent back to the application. Close this page and tell its developer.</p>",
    )


def signed_in_page(username: str) -> str:
    return _page("Signed in", f"<h1>Signed in</h1><p>You are signed in as <strong>{escape(username)}</strong>.</p>")


@dataclass(frozen=True)
class AuthorizedApp:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    since: str


def authorizations_page(username: str, authorizations: Sequence[AuthorizedApp], csrf_token: str) -> str:
    """The apps the user has authorized, each with a button that withdraws its access."""
    if not authorizations:
        rows = "<p>You have not authorized any application.</p>"
    else:
        items = []
        for entry in authorizations:
            scopes = ", ".join(escape(scope) for scope in entry.scopes)
            items.append(
                f"<li><strong>{escape(entry.name)}</strong> ({scopes}), since {escape(entry.since)}"
                '<form method="post" action="/auth/authorizations/revoke">'
                f"{_hidden('csrf_token', csrf_token)}{_hidden('client_id', entry.client_id)}"
                '<button type="submit">Revoke access</button></form></li>'
            )
        rows = f"<ul>{''.join(items)}</ul>"
    return _page(
        "Authorized applications",
        f"<h1>Applications you authorized</h1><p>Signed in as <strong>{escape(username)}</strong>.</p>{rows}",
    )
