"""The HTML of api.php's sign-in, access request, code and error pages. Every value is escaped; nothing external is
loaded; the pages are served with services/auth/oauth/web_forms.py's PAGE_HEADERS (not framable, not cached)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from services.auth.apiphp.authorization import AccessRequest
from services.auth.oauth.scopes import describe

AUTH_PATH = "/api.php/auth"
_STYLE = """body{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;
padding:.4rem}button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}.error{color:#a00}li{margin:.3rem 0}
code.secret{font-size:1.2rem;user-select:all}.warning{background:#fff3cd;border:1px solid #c90;padding:.5rem}
.recipient{font-size:1.1rem}"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def _recipient(request: AccessRequest) -> str:
    recipient = request.recipient
    if recipient is None:
        return (
            "<p>No web site receives the access: a one-time code will be shown on this page for you to enter in the "
            "application.</p>"
        )
    kind = "the application on your device that opens" if recipient.endswith(":") else "the web site"
    return (
        f'<p class="recipient">Access will be sent to {kind} <strong><code>{escape(recipient)}</code></strong>. '
        f"Allow only if you trust it: full address <code>{escape(request.redirect_uri)}</code>.</p>"
    )


def access_page(request: AccessRequest, apps: Sequence[str], username: str, csrf_token: str) -> str:
    """Seed 000: the access request page naming CLIENT_NAME and the apps, where the user accepts or declines. The
    name and id are whatever the application sent (api.php has no registration), so the page says the application is
    unverified and names the host that will receive the token."""
    items = "".join(f"<li><strong>{escape(app)}</strong>: {escape(describe(app))}</li>" for app in apps)
    hidden = "".join(_hidden(name, value) for name, value in request.as_params().items())
    return _page(
        "API access request",
        f"<h1>{escape(request.client_name)} requests access to your account</h1>"
        '<p class="warning" role="alert"><strong>Unverified application.</strong> Its name and id were chosen by the '
        "application itself and have not been checked by this site; any application can claim any name.</p>"
        f"{_recipient(request)}"
        f"<p>Application id <code>{escape(request.client_id)}</code> asks for access to the API of these apps, "
        f"with your rights as <strong>{escape(username)}</strong>:</p><ul>{items}</ul>"
        f'<form method="post" action="{AUTH_PATH}">{hidden}{_hidden("csrf_token", csrf_token)}'
        '<button type="submit" name="decision" value="allow">Allow</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></form>'
        f'<form method="post" action="/auth/logout">{_hidden("csrf_token", csrf_token)}'
        '<button type="submit">Sign out</button></form>',
    )


def code_page(client_name: str, code: str) -> str:
    """A code requested without redirect_uri is shown for the user to paste into the application (as Webasyst)."""
    return _page(
        "Authorization code",
        f"<h1>Access granted to {escape(client_name)}</h1><p>Enter this one-time code in the application within "
        f'three minutes:</p><p><code class="secret">{escape(code)}</code></p>',
    )


def error_page(code: str, description: str) -> str:
    return _page(
        "API authorization error",
        f'<h1>This request cannot be authorized</h1><p class="error"><code>{escape(code)}</code>: '
        f"{escape(description)}</p><p>You were not sent back to the application.</p>",
    )
