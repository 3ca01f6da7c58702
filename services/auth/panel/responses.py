"""How panel pages answer: the security headers every page carries, HTML bodies, redirects."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# Only the panel's own stylesheet and script run; nothing may frame a page (click-jacking of Revoke or Save), and
# no page is kept by a cache, since most show personal data and some show a secret.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", headers=PAGE_HEADERS)


def redirect(location: str) -> web.Response:
    """303 See Other: after a form post the browser fetches the next page with GET, so a reload never re-posts."""
    return web.Response(status=303, headers={**PAGE_HEADERS, "Location": location})


def secret_json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers=PAGE_HEADERS)
