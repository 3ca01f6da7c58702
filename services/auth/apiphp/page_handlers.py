"""The pages of the token flow (seed 000, part 1): GET/POST /api.php/auth and the sign-in at /api.php/login.

Sign-in sessions are the OAuth server's (services/auth/oauth/sessions.py: same cookie, same store, same CSRF token),
so a user signed in for one flow is signed in for the other. /api.php/login exists because the OAuth login page
returns only to OAuth paths; it has the same protections (CSRF, throttled failures, equal work for unknown users).
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
from services.auth.oauth.web_forms import PAGE_HEADERS, form_pairs, html, session_id_of, set_session_cookie
from services.auth.origin import forwarded_client
from services.auth.passwords import MAX_PASSWORD_LENGTH, verify_password

MAX_NEXT_LENGTH = 4096
MAX_USERNAME_LENGTH = 64


def _redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={**PAGE_HEADERS, "Location": location})


def _error(error: AccessRequestError, status: int = 400) -> web.Response:
    return html(pages.error_page(error.code, error.description), status=status)


def _safe_next(value: str | None) -> str | None:
    """Only the access request page is a place to return to after signing in here (never an open redirect)."""
    if not value or len(value) > MAX_NEXT_LENGTH:
        return None
    if value == pages.AUTH_PATH or value.startswith(pages.AUTH_PATH + "?"):
        return value
    return None


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
        return _redirect(f"{pages.LOGIN_PATH}?{urlencode({'next': back})}", status=303)
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
            return _redirect(token_redirect(access, token))
        code = await tokens.issue_code(conn, access, session.user_id, apps)
    if not access.redirect_uri:
        return html(pages.code_page(access.client_name, code))
    return _redirect(code_redirect(access, code))


async def login_form(request: web.Request) -> web.Response:
    oauth = request.app[OAUTH]
    next_url = _safe_next(request.query.get("next")) or pages.AUTH_PATH
    async with request.app[POOL].acquire() as conn:
        session = await oauth.sessions.load(conn, session_id_of(request))
        if session is not None and session.user_id is not None:
            return _redirect(next_url, 303)
        if session is None:
            session = await oauth.sessions.start(conn, None)
    response = html(pages.login_page(session.csrf_token, next_url))
    set_session_cookie(response, request, oauth.config.cookie_secure, session.id, oauth.sessions.ttl_seconds)
    return response


async def login(request: web.Request) -> web.Response:
    oauth = request.app[OAUTH]
    try:
        fields = dict(await form_pairs(request))
    except InvalidRequest:
        return _error(AccessRequestError("invalid_request", "The sign-in form was malformed"))
    next_url = _safe_next(fields.get("next")) or pages.AUTH_PATH
    async with request.app[POOL].acquire() as conn:
        session = await oauth.sessions.load(conn, session_id_of(request))
        if session is None or not session.csrf_matches(fields.get("csrf_token")):
            return _error(AccessRequestError("invalid_request", "The sign-in form has expired; reload the page"), 403)
        username = fields.get("username", "")[:MAX_USERNAME_LENGTH]
        password = fields.get("password", "")
        client_ip = forwarded_client(request.headers.get("X-Forwarded-For")) or request.remote
        wait = oauth.login_throttle.retry_after(username or None, client_ip)
        if wait is not None:
            page = pages.login_page(session.csrf_token, next_url, "Too many failed attempts; wait and try again")
            response = html(page, status=429)
            response.headers["Retry-After"] = str(wait)
            return response
        user_id = await auth_db.get_user_id_by_username(conn, username) if username else None
        stored = await auth_db.get_password_hash(conn, user_id) if user_id is not None else None
        user = await auth_db.get_user(conn, user_id) if user_id is not None else None
        # verify_password does the same Argon2 work for an unknown user, so timing does not tell who exists.
        valid = len(password) <= MAX_PASSWORD_LENGTH and verify_password(stored, password)
        if not valid or user is None or not user["is_active"]:
            oauth.login_throttle.record_failure(username or None, client_ip)
            return html(pages.login_page(session.csrf_token, next_url, "Wrong username or password"), status=401)
        # A new session id after signing in, so an id planted before it is worth nothing.
        await oauth.sessions.end(conn, session.id)
        signed_in = await oauth.sessions.start(conn, user["id"], user["username"])
    response = _redirect(next_url, 303)
    set_session_cookie(response, request, oauth.config.cookie_secure, signed_in.id, oauth.sessions.ttl_seconds)
    return response
