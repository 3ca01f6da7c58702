"""The one login page of the auth service (the panel, OAuth and api.php send visitors here), and signing out.

Forms carry the session's CSRF token; the session cookie is HttpOnly, SameSite=Lax and Secure over https.
"""

from __future__ import annotations

import re

from aiohttp import web

from services.auth.oauth.errors import InvalidRequest
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.web_forms import form_pairs
from services.auth.web.rendering import FLOW_HEADERS, Page, redirect, render
from services.auth.web.session_cookie import clear_session_cookie, set_session_cookie
from services.auth.web.signin import (
    LOGIN_PATH,
    SignInRefused,
    current_visitor,
    sign_in,
    sign_out,
    start_anonymous_session,
)

AUTHORIZE_PATH = "/auth/oauth/authorize"
APIPHP_AUTHORIZE_PATH = "/api.php/auth"
AUTHORIZATIONS_PATH = "/auth/authorizations"
MAX_NEXT_LENGTH = 4096
PANEL_PATH = re.compile(r"/panel/[A-Za-z0-9/_.?=&%-]*")


def safe_next(value: str | None) -> str | None:
    """Only this server's authorization endpoints (OAuth's and api.php's), authorized-apps page and control-panel
    pages are places to return to after login (never an open redirect: no scheme, no host, no '//' or backslash,
    no dot segments)."""
    if not value or len(value) > MAX_NEXT_LENGTH:
        return None
    for endpoint in (AUTHORIZE_PATH, APIPHP_AUTHORIZE_PATH):
        if value == endpoint or value.startswith(endpoint + "?"):
            return value
    if value == AUTHORIZATIONS_PATH:
        return value
    if PANEL_PATH.fullmatch(value) and "//" not in value and "/../" not in value + "/":
        return value
    return None


def flow_error(message: str, status: int = 400) -> Page:
    return Page("flow/error.html", {"title": "Authorization error", "message": message}, status, FLOW_HEADERS)


def _login_page(next_url: str, error: str | None = None, status: int = 200) -> Page:
    return Page("flow/login.html", {"title": "Sign in", "next_url": next_url, "error": error}, status, FLOW_HEADERS)


def _signed_in_page() -> Page:
    return Page("flow/signed_in.html", {"title": "Signed in"}, headers=FLOW_HEADERS)


async def login_form(request: web.Request) -> web.StreamResponse:
    oauth = request.app[OAUTH]
    next_url = safe_next(request.query.get("next")) or ""
    visitor = await current_visitor(request)
    if visitor.user is not None:
        return redirect(next_url, headers=FLOW_HEADERS) if next_url else await render(request, _signed_in_page())
    session = visitor.session or await start_anonymous_session(request)
    response = await render(request, _login_page(next_url))
    set_session_cookie(response, request, oauth.config.cookie_secure, session.id, oauth.sessions.ttl_seconds)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    oauth = request.app[OAUTH]
    try:
        fields = dict(await form_pairs(request))
    except InvalidRequest:
        return await render(request, flow_error("The sign-in form was malformed"))
    next_url = safe_next(fields.get("next")) or ""
    visitor = await current_visitor(request)
    if not visitor.csrf_matches(fields.get("csrf_token")):
        return await render(request, flow_error("The sign-in form has expired; reload the page and try again", 403))
    try:
        session = await sign_in(request, visitor, fields.get("username", ""), fields.get("password", ""))
    except SignInRefused as refused:
        response = await render(request, _login_page(next_url, refused.message, refused.status))
        if refused.retry_after is not None:
            response.headers["Retry-After"] = str(refused.retry_after)
        return response
    response = redirect(next_url, headers=FLOW_HEADERS) if next_url else await render(request, _signed_in_page())
    set_session_cookie(response, request, oauth.config.cookie_secure, session.id, oauth.sessions.ttl_seconds)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    try:
        fields = dict(await form_pairs(request))
    except InvalidRequest:
        return await render(request, flow_error("The form was malformed"))
    visitor = await current_visitor(request)
    if not visitor.csrf_matches(fields.get("csrf_token")):
        return await render(request, flow_error("The form has expired", 403))
    await sign_out(request, visitor)
    response = redirect(LOGIN_PATH, headers=FLOW_HEADERS)
    clear_session_cookie(response)
    return response
