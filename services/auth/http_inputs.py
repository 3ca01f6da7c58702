"""What every handler reads first: the signed caller, and a bounded JSON object body."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.auth.keys import CONFIG
from services.auth.origin import client_address, forwarded_client
from shared.errors import BadRequest, Forbidden, UnsupportedMediaType
from shared.principal import Principal, principal_from_request


def caller(request: web.Request) -> Principal:
    """The user the gateway vouches for; a service principal has no business in the management API."""
    principal = principal_from_request(
        request, request.app[CONFIG].common.signing_key.bytes, request.app[CONFIG].common.service
    )
    if principal.is_service:
        raise Forbidden("This API acts for users, not for services")
    client_address.set(forwarded_client(request.headers.get("X-Forwarded-For")))
    return principal


# The user's own credentials. A token handed to an application (OAuth, api.php) acts on data only: it never manages
# users, keys, tokens, apps or the user's grants, so an app cannot mint credentials that outlive the user's consent.
FIRST_PARTY_CREDENTIALS = frozenset({"api_key", "api_token", "panel_session"})


class AppCredentialRefused(Forbidden):
    code = "insufficient_scope"


def refuse_app_credential(principal: Principal) -> None:
    if principal.credential_kind not in FIRST_PARTY_CREDENTIALS:
        raise AppCredentialRefused(
            "A third-party application's token cannot manage users, credentials or apps; use your own credential"
        )


def manager(request: web.Request) -> Principal:
    """The caller of a management endpoint: a user through one of their own credentials, never an app's token."""
    principal = caller(request)
    refuse_app_credential(principal)
    return principal


def service_caller(request: web.Request) -> Principal:
    principal = principal_from_request(
        request, request.app[CONFIG].common.signing_key.bytes, request.app[CONFIG].common.service
    )
    if not principal.is_service:
        raise Forbidden("Only an internal service may call this endpoint")
    return principal


async def json_object(request: web.Request, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send a JSON body with Content-Type: application/json")
    try:
        body = await request.json()
    except (ValueError, LookupError):
        raise BadRequest("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    if allowed is not None:
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise BadRequest(f"Unknown field {unknown[0][:64]!r}", target=unknown[0][:64])
    return body


def secret_response(data: dict[str, Any], status: int = 200) -> web.Response:
    """A response carrying a key or token: never stored by a cache on the way."""
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})
