"""Reading form posts and the client's address: the small aiohttp-facing helpers the protocol handlers share."""

from __future__ import annotations

from aiohttp import web

from services.auth.oauth.errors import InvalidRequest
from shared.bodies import MalformedBody, read_form

FORM_TYPE = "application/x-www-form-urlencoded"


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
