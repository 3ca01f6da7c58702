"""The sign-in session's cookie: HttpOnly, SameSite=Lax, and over https Secure with the __Host- prefix."""

from __future__ import annotations

from aiohttp import web

from services.auth.oauth.web_forms import cookie_is_secure

SESSION_COOKIE = "oauth_session"
SECURE_SESSION_COOKIE = "__Host-oauth_session"  # the __Host- prefix: Secure, Path=/, no Domain (RFC 6265bis 4.1.3)


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
