"""Reading form posts and setting the session cookie: the small aiohttp-facing helpers the handlers share."""

from __future__ import annotations

from aiohttp import web

from services.auth.oauth.errors import InvalidRequest
from shared.bodies import MalformedBody, read_form

FORM_TYPE = "application/x-www-form-urlencoded"
SESSION_COOKIE = "oauth_session"
SECURE_SESSION_COOKIE = "__Host-oauth_session"  # the __Host- prefix: Secure, Path=/, no Domain (RFC 6265bis 4.1.3)
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def form_pairs(request: web.Request) -> list[tuple[str, str]]:
    """The urlencoded body as (name, value) pairs, repeats kept so the protocol core can refuse them."""
    if request.content_type != FORM_TYPE:
        raise InvalidRequest(f"The request body must be {FORM_TYPE}")
    try:
        form = await read_form(request)
    except MalformedBody as error:
        raise InvalidRequest(error.message) from None
    return [(name, value) for name, value in form.items() if isinstance(value, str)]


def is_https(request: web.Request) -> bool:
    # The gateway terminates TLS and says so; believing a forged "https" only makes the cookie stricter.
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def cookie_is_secure(request: web.Request, mode: str) -> bool:
    return mode == "true" or (mode == "auto" and is_https(request))


def client_address(request: web.Request) -> str | None:
    """The client's address as the gateway forwards it (it sets X-Forwarded-For itself), else the peer's."""
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
    return (forwarded or request.remote or None) if len(forwarded) <= 64 else request.remote


def session_id_of(request: web.Request) -> str | None:
    return request.cookies.get(SECURE_SESSION_COOKIE) or request.cookies.get(SESSION_COOKIE)


def set_session_cookie(
    response: web.StreamResponse, request: web.Request, mode: str, session_id: str, ttl: int
) -> None:
    secure = cookie_is_secure(request, mode)
    response.set_cookie(
        SECURE_SESSION_COOKIE if secure else SESSION_COOKIE,
        session_id,
        max_age=ttl,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(SECURE_SESSION_COOKIE, path="/", secure=True)


def html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", headers=PAGE_HEADERS)
