"""How pages answer: one render function (the template, the one context processor, the security headers), redirects
and the few JSON answers the script asks for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup, escape

from services.auth.web.navigation import sections
from services.auth.web.signin import current_visitor

# Only the service's own stylesheet and script run (no inline script or style, no nonce); nothing may frame a page
# (click-jacking of Allow, Revoke or Save), and no page is kept by a cache: most show personal data, some a secret.
_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_COMMON_HEADERS = {
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
PANEL_HEADERS = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": _POLICY + "; form-action 'self'",
    "Referrer-Policy": "same-origin",
}
# The sign-in, consent and api.php pages post forms whose answer redirects to the application, which form-action
# 'self' would block (browsers apply it to redirects too); their URLs hold a state and a code challenge: no referrer.
FLOW_HEADERS = {**_COMMON_HEADERS, "Content-Security-Policy": _POLICY, "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Page:
    """What a view hands back: the template, its variables, the status; the render function does the rest."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: PANEL_HEADERS)


async def page_context(request: web.Request) -> dict[str, Any]:
    """The one context processor: the CSRF token and the signed-in user reach every template. It runs when the page
    is rendered, after the view, so a sign-in or sign-out in the view is what the page shows."""
    visitor = await current_visitor(request)
    return {
        "csrf_token": visitor.csrf_token,
        "user": visitor.user,
        "sections": sections(visitor.user) if visitor.user is not None else [],
    }


async def render(request: web.Request, page: Page) -> web.Response:
    context = {**await page_context(request), **page.context}
    response = aiohttp_jinja2.render_template(page.template, request, context, status=page.status)
    response.headers.update(page.headers)
    return response


def redirect(location: str, status: int = 303, headers: Mapping[str, str] = PANEL_HEADERS) -> web.Response:
    """303 See Other after a form post: the browser fetches the next page with GET, so a reload never re-posts."""
    return web.Response(status=status, headers={**headers, "Location": location})


def secret_json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers=PANEL_HEADERS)


def moment(value: str | datetime | None, missing: str = "never") -> Markup:
    """A time from the domain layer (ISO 8601 or a datetime), shown in UTC to the minute."""
    if value is None:
        return escape(missing)
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    shown = when.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}">{}</time>').format(when.isoformat(), shown)
