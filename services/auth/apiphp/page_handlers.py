"""The pages of the token flow (seed 000, part 1): GET/POST /api.php/auth.

Users sign in on the one login page of the auth service (/auth/login, with its CSRF token, throttled failures and
equal work for unknown users), which sends them back here; sessions are the OAuth server's, so a user signed in for
one flow is signed in for the other.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.auth import db as auth_db
from services.auth.apiphp import pages
from services.auth.apiphp.authorization import (
    AccessRequest,
    AccessRequestError,
    code_redirect,
    denial_redirect,
    grantable_apps,
    parse_access_request,
    token_redirect,
)
from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.keys import POOL
from services.auth.oauth.errors import InvalidRequest
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.sessions import Session
from services.auth.oauth.web_forms import PAGE_HEADERS, form_pairs, html, session_id_of

LOGIN_PATH = "/auth/login"


def _redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={**PAGE_HEADERS, "Location": location})


def _error(error: AccessRequestError, status: int = 400) -> web.Response:
    return html(pages.error_page(error.code, error.description), status=status)


async def _apps_for(request: web.Request, access: AccessRequest, session: Session) -> tuple[str, ...]:
    assert session.user_id is not None
    async with request.app[POOL].acquire() as conn:
        user = await auth_db.get_user(conn, session.user_id)
    if user is None or not user["is_active"]:
        raise AccessRequestError("access_denied", "Access to API is denied")
    apps = grantable_apps(access.requested_apps, user["is_admin"], user["permissions"])
    if not apps:
        raise AccessRequestError("invalid_request", "invalid scope")
    return apps


async def _session(request: web.Request) -> Session | None:
    async with request.app[POOL].acquire() as conn:
        return await request.app[OAUTH].sessions.load(conn, session_id_of(request))


async def show_access_request(request: web.Request) -> web.Response:
    """GET /api.php/auth: the sign-in page first when there is no session, then the access request page."""
    try:
        access = parse_access_request(request.query.items())
    except AccessRequestError as error:
        return _error(error)
    session = await _session(request)
    if session is None or session.user_id is None:
        back = f"{pages.AUTH_PATH}?{urlencode(access.as_params())}"
        return _redirect(f"{LOGIN_PATH}?{urlencode({'next': back})}", status=303)
    try:
        apps = await _apps_for(request, access, session)
    except AccessRequestError as error:
        return _error(error, 403 if error.code == "access_denied" else 400)
    return html(pages.access_page(access, apps, session.username or "", session.csrf_token))


async def decide(request: web.Request) -> web.Response:
    """POST /api.php/auth from the access request page: Allow -> code or token; Deny -> error=access_denied."""
    try:
        pairs = await form_pairs(request)
    except InvalidRequest:
        return _error(AccessRequestError("invalid_request", "The form was malformed"))
    fields = dict(pairs)
    session = await _session(request)
    if session is None or session.user_id is None:
        return _error(AccessRequestError("access_denied", "Your sign-in session has ended; start again"), 403)
    if not session.csrf_matches(fields.get("csrf_token")):
        return _error(AccessRequestError("invalid_request", "CSRF Protection"), 403)
    try:
        access = parse_access_request((name, value) for name, value in pairs if name not in ("csrf_token", "decision"))
        apps = await _apps_for(request, access, session)
    except AccessRequestError as error:
        return _error(error, 403 if error.code == "access_denied" else 400)
    if fields.get("decision") != "allow":
        location = denial_redirect(access)
        if location is None:
            return _error(AccessRequestError("access_denied", f"You've denied API access to {access.client_name}"), 403)
        return _redirect(location)
    tokens = request.app[APIPHP_TOKENS]
    async with request.app[POOL].acquire() as conn:
        if access.response_type == "token":
            token, _ = await tokens.issue_token(conn, session.user_id, access.client_id, access.client_name, list(apps))
            return _redirect(token_redirect(access, token, tokens.token_ttl))
        code = await tokens.issue_code(conn, access, session.user_id, apps)
    if not access.redirect_uri:
        return html(pages.code_page(access.client_name, code))
    return _redirect(code_redirect(access, code))
