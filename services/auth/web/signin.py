"""Signing in, in one place for every page (the panel, the OAuth consent and api.php's): the visitor of a request,
and the one function that checks a username and password and starts a signed-in session.

The user's rights are read from the database on every request, so a permission removed, or a user deactivated, takes
effect on the next page (the session store already drops deactivated users).
"""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from services.auth import db
from services.auth.keys import POOL
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.sessions import Session
from services.auth.oauth.web_forms import client_address as forwarded_address
from services.auth.origin import client_address, forwarded_client
from services.auth.passwords import MAX_PASSWORD_LENGTH, verify_password
from services.auth.permissions import effective_permissions
from services.auth.web.keys import VISITOR
from services.auth.web.session_cookie import session_id_of
from services.auth.web.visitor import WEB_CREDENTIAL_KIND, SignedInUser, Visitor
from shared.principal import Principal

LOGIN_PATH = "/auth/login"
MAX_USERNAME_LENGTH = 64


class SignInRequired(Exception):
    """No signed-in session: the visitor goes to the login page, which may bring them back."""

    def __init__(self, return_path: str) -> None:
        super().__init__("sign-in required")
        self.location = login_location(return_path)


class SignInRefused(Exception):
    """A wrong username or password (401), or too many failures (429, retry_after seconds)."""

    def __init__(self, message: str, status: int, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


def login_location(return_path: str) -> str:
    return f"{LOGIN_PATH}?{urlencode({'next': return_path})}"


def _signed_in_user(row: asyncpg.Record) -> SignedInUser:
    principal = Principal(
        user_id=row["id"],
        username=row["username"],
        is_admin=row["is_admin"],
        permissions=effective_permissions(row["is_admin"], row["permissions"], None),
        credential_kind=WEB_CREDENTIAL_KIND,
        # Never the session id: the principal's fields end up in the audit log.
        credential_id=f"{WEB_CREDENTIAL_KIND}:{row['id']}",
    )
    return SignedInUser(principal)


async def current_visitor(request: web.Request) -> Visitor:
    """The request's session and signed-in user, read once per request."""
    if VISITOR in request:
        return request[VISITOR]
    async with request.app[POOL].acquire() as conn:
        session = await request.app[OAUTH].sessions.load(conn, session_id_of(request))
        row = await db.get_user(conn, session.user_id) if session is not None and session.user_id is not None else None
    user = _signed_in_user(row) if row is not None and row["is_active"] else None
    if user is not None:
        _remember_client_address(request)
    visitor = Visitor(session, user)
    request[VISITOR] = visitor
    return visitor


async def require_user(request: web.Request) -> tuple[Visitor, SignedInUser]:
    visitor = await current_visitor(request)
    if visitor.user is None:
        raise SignInRequired(request.rel_url.path_qs if request.method == "GET" else "/panel/")
    return visitor, visitor.user


async def start_anonymous_session(request: web.Request) -> Session:
    """The login page's session: it carries the CSRF token of the sign-in form."""
    async with request.app[POOL].acquire() as conn:
        session = await request.app[OAUTH].sessions.start(conn, None)
    request[VISITOR] = Visitor(session, None)
    return session


async def sign_in(request: web.Request, visitor: Visitor, username: str, password: str) -> Session:
    """Checks the password (throttled per username and per address) and replaces the visitor's session with a new
    signed-in one, so a session id planted before sign-in is worth nothing. Raises SignInRefused."""
    oauth = request.app[OAUTH]
    username = username[:MAX_USERNAME_LENGTH]
    address = forwarded_address(request)
    wait = await oauth.login_throttle.retry_after(username or None, address)
    if wait is not None:
        raise SignInRefused("Too many failed attempts; wait", 429, wait)
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        user_id = await db.get_user_id_by_username(conn, username) if username else None
        stored = await db.get_password_hash(conn, user_id) if user_id is not None else None
        row = await db.get_user(conn, user_id) if user_id is not None else None
    # Argon2 in a worker thread and with no connection held: a burst of logins neither stalls every other request
    # nor drains the pool. It does the same work for an unknown user, so timing does not tell who exists.
    valid = len(password) <= MAX_PASSWORD_LENGTH and await asyncio.to_thread(verify_password, stored, password)
    if not valid or row is None or not row["is_active"]:
        await oauth.login_throttle.record_failure(username or None, address)
        raise SignInRefused("Wrong username or password", 401)
    await oauth.login_throttle.record_success(username, address)
    async with pool.acquire() as conn:
        if visitor.session is not None:
            await oauth.sessions.end(conn, visitor.session.id)
        session = await oauth.sessions.start(conn, row["id"], row["username"])
    request[VISITOR] = Visitor(session, _signed_in_user(row))
    return session


async def sign_out(request: web.Request, visitor: Visitor) -> None:
    if visitor.session is not None:
        async with request.app[POOL].acquire() as conn:
            await request.app[OAUTH].sessions.end(conn, visitor.session.id)
    request[VISITOR] = Visitor(None, None)


def _remember_client_address(request: web.Request) -> None:
    """For the audit log. X-Forwarded-For is believed only from a proxy on this host (the gateway in a local
    deployment); from anywhere else the peer address is what we know."""
    peer = request.remote
    try:
        from_loopback = peer is not None and ipaddress.ip_address(peer).is_loopback
    except ValueError:
        from_loopback = False
    forwarded = forwarded_client(request.headers.get("X-Forwarded-For")) if from_loopback else None
    client_address.set(forwarded or peer)
