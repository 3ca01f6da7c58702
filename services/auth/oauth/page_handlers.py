"""The pages a user sees: the authorization endpoint (RFC 6749 section 3.1) with its consent form, login and logout.

Forms carry the session's CSRF token; the session cookie is HttpOnly, SameSite=Lax and Secure over https; every page
refuses to be framed (X-Frame-Options and CSP frame-ancestors), against click-jacking of the Allow button.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlencode

from aiohttp import web

from services.auth import db as auth_db
from services.auth.keys import POOL
from services.auth.oauth import db, pages
from services.auth.oauth.authorization import (
    RedirectError,
    approve,
    covered_by_consent,
    denial,
    validate_authorization_request,
)
from services.auth.oauth.errors import AuthorizationPageError, InvalidRequest
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.sessions import Session
from services.auth.oauth.web_forms import (
    PAGE_HEADERS,
    clear_session_cookie,
    client_address,
    form_pairs,
    html,
    session_id_of,
    set_session_cookie,
)
from services.auth.passwords import MAX_PASSWORD_LENGTH, verify_password

AUTHORIZE_PATH = "/auth/oauth/authorize"
AUTHORIZATIONS_PATH = "/auth/authorizations"
APIPHP_AUTHORIZE_PATH = "/api.php/auth"
MAX_NEXT_LENGTH = 4096


def _redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={**PAGE_HEADERS, "Location": location})


async def _session(request: web.Request) -> Session | None:
    async with request.app[POOL].acquire() as conn:
        return await request.app[OAUTH].sessions.load(conn, session_id_of(request))


PANEL_PATH = re.compile(r"/panel/[A-Za-z0-9/_.?=&%-]*")


def _safe_next(value: str | None) -> str | None:
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


async def authorize(request: web.Request) -> web.Response:
    """GET: validate the request, then the login page (no session), the code at once (a remembered consent covers
    the scopes) or the consent page."""
    oauth = request.app[OAUTH]
    try:
        async with request.app[POOL].acquire() as conn:
            authorization = await validate_authorization_request(conn, request.query.items(), oauth.config)
            session = await oauth.sessions.load(conn, session_id_of(request))
            if session is None or session.user_id is None:
                back = f"{AUTHORIZE_PATH}?{urlencode(authorization.as_params())}"
                return _redirect(f"/auth/login?{urlencode({'next': back})}", status=303)
            if await covered_by_consent(conn, authorization, session.user_id):
                return _redirect(await approve(conn, oauth.hasher, authorization, session.user_id, oauth.config))
            granted = await db.get_consent_scopes(conn, session.user_id, authorization.client.client_id)
    except AuthorizationPageError as error:
        return html(pages.error_page(error.message), status=400)
    except RedirectError as error:
        return _redirect(error.location)
    assert session.username is not None
    return html(pages.consent_page(authorization, session.username, session.csrf_token, tuple(granted or ())))


async def decide(request: web.Request) -> web.Response:
    """POST from the consent page: allow -> code and state; deny -> error=access_denied and state."""
    oauth = request.app[OAUTH]
    try:
        pairs = await form_pairs(request)
    except InvalidRequest:
        return html(pages.error_page("The consent form was malformed"), status=400)
    fields = dict(pairs)
    async with request.app[POOL].acquire() as conn:
        session = await oauth.sessions.load(conn, session_id_of(request))
        if session is None or session.user_id is None:
            return html(pages.error_page("Your sign-in session has ended; start again from the application"), 400)
        if not session.csrf_matches(fields.get("csrf_token")):
            return html(pages.error_page("The form has expired; start again from the application"), status=403)
        try:
            authorization = await validate_authorization_request(conn, pairs, oauth.config)
        except AuthorizationPageError as error:
            return html(pages.error_page(error.message), status=400)
        except RedirectError as error:
            return _redirect(error.location)
        if fields.get("decision") != "allow":
            return _redirect(denial(authorization, oauth.config.issuer))
        location = await approve(conn, oauth.hasher, authorization, session.user_id, oauth.config)
    return _redirect(location)


async def login_form(request: web.Request) -> web.Response:
    oauth = request.app[OAUTH]
    next_url = _safe_next(request.query.get("next")) or ""
    async with request.app[POOL].acquire() as conn:
        session = await oauth.sessions.load(conn, session_id_of(request))
        if session is not None and session.user_id is not None:
            return _redirect(next_url, 303) if next_url else html(pages.signed_in_page(session.username or ""))
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
        return html(pages.error_page("The sign-in form was malformed"), status=400)
    next_url = _safe_next(fields.get("next")) or ""
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        session = await oauth.sessions.load(conn, session_id_of(request))
    if session is None or not session.csrf_matches(fields.get("csrf_token")):
        return html(pages.error_page("The sign-in form has expired; reload the page and try again"), status=403)
    username = fields.get("username", "")[:64]
    password = fields.get("password", "")
    client_ip = client_address(request)
    wait = await oauth.login_throttle.retry_after(username or None, client_ip)
    if wait is not None:
        response = html(pages.login_page(session.csrf_token, next_url, "Too many failed attempts; wait"), 429)
        response.headers["Retry-After"] = str(wait)
        return response
    async with pool.acquire() as conn:
        user_id = await auth_db.get_user_id_by_username(conn, username) if username else None
        stored = await auth_db.get_password_hash(conn, user_id) if user_id is not None else None
        user = await auth_db.get_user(conn, user_id) if user_id is not None else None
    # Argon2 in a worker thread and with no connection held: a burst of logins neither stalls every other request
    # nor drains the pool. It does the same work for an unknown user, so timing does not tell who exists.
    valid = len(password) <= MAX_PASSWORD_LENGTH and await asyncio.to_thread(verify_password, stored, password)
    if not valid or user is None or not user["is_active"]:
        await oauth.login_throttle.record_failure(username or None, client_ip)
        return html(pages.login_page(session.csrf_token, next_url, "Wrong username or password"), status=401)
    await oauth.login_throttle.record_success(username, client_ip)
    async with pool.acquire() as conn:
        await oauth.sessions.end(conn, session.id)
        signed_in = await oauth.sessions.start(conn, user["id"], user["username"])
    response = _redirect(next_url, 303) if next_url else html(pages.signed_in_page(user["username"]))
    set_session_cookie(response, request, oauth.config.cookie_secure, signed_in.id, oauth.sessions.ttl_seconds)
    return response


async def logout(request: web.Request) -> web.Response:
    oauth = request.app[OAUTH]
    try:
        fields = dict(await form_pairs(request))
    except InvalidRequest:
        return html(pages.error_page("The form was malformed"), status=400)
    session = await _session(request)
    if session is None or not session.csrf_matches(fields.get("csrf_token")):
        return html(pages.error_page("The form has expired"), status=403)
    async with request.app[POOL].acquire() as conn:
        await oauth.sessions.end(conn, session.id)
    response = _redirect("/auth/login", 303)
    clear_session_cookie(response)
    return response


async def authorizations(request: web.Request) -> web.Response:
    """The page listing the apps the signed-in user authorized (issue 4, item 7)."""
    oauth = request.app[OAUTH]
    async with request.app[POOL].acquire() as conn:
        session = await oauth.sessions.load(conn, session_id_of(request))
        if session is None or session.user_id is None:
            return _redirect(f"/auth/login?{urlencode({'next': AUTHORIZATIONS_PATH})}", status=303)
        rows = await db.list_consents(conn, session.user_id)
    entries = [
        pages.AuthorizedApp(row["client_id"], row["name"], tuple(row["scopes"]), row["created_at"].date().isoformat())
        for row in rows
    ]
    return html(pages.authorizations_page(session.username or "", entries, session.csrf_token))


async def revoke_authorization(request: web.Request) -> web.Response:
    oauth = request.app[OAUTH]
    try:
        fields = dict(await form_pairs(request))
    except InvalidRequest:
        return html(pages.error_page("The form was malformed"), status=400)
    client_id = fields.get("client_id", "")[:64]
    async with request.app[POOL].acquire() as conn:
        session = await oauth.sessions.load(conn, session_id_of(request))
        if session is None or session.user_id is None or not session.csrf_matches(fields.get("csrf_token")):
            return html(pages.error_page("The form has expired; reload the page"), status=403)
        if await db.has_consent(conn, session.user_id, client_id):
            await oauth.tokens.revoke_user_client(conn, session.user_id, client_id, "oauth_app_revoked")
    return _redirect(AUTHORIZATIONS_PATH, 303)
