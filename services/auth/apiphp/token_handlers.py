"""POST /api.php/token (seed 000), POST /api.php/revoke (Webasyst's: the presented token revokes itself), and the
owner's list and revoke of their api.php tokens at /api/apiphp/tokens."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from services.auth import inputs
from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.apiphp.tokens import CREDENTIAL_KIND, TokenRequestError, parse_token_request
from services.auth.http_inputs import caller, manager
from services.auth.keys import CONTEXT, POOL
from shared import apiphp_format
from shared.bodies import MalformedBody, read_form
from shared.errors import Forbidden, NotFound

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_TOKENS_PAGE = 500
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def apiphp_response(data: dict[str, Any], fmt: str, status: int = 200) -> web.Response:
    body, content_type = apiphp_format.render(data, fmt)
    return web.Response(status=status, body=body, content_type=content_type, charset="utf-8", headers=NO_STORE)


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type not in FORM_TYPES:
        raise TokenRequestError("invalid_request", "Send the fields as application/x-www-form-urlencoded")
    try:
        form = await read_form(request)
    except MalformedBody as error:
        raise TokenRequestError("invalid_request", error.message) from None
    fields: dict[str, str] = {}
    for name, value in form.items():
        if not isinstance(value, str):
            continue
        if name in fields:
            raise TokenRequestError("invalid_request", f"Repeated parameter: {name[:32]}")
        fields[name] = value
    return fields


async def exchange_code(request: web.Request) -> web.Response:
    """Seed 000: POST /api.php/token?redirect_uri=...&format=json|xml with code, client_id, grant_type."""
    try:
        fmt = apiphp_format.response_format(request.query.get("format"))
    except apiphp_format.UnknownFormat as error:
        body = apiphp_format.error_body(apiphp_format.INVALID_REQUEST, str(error))
        return apiphp_response(body, apiphp_format.DEFAULT_FORMAT, 400)
    try:
        token_request = parse_token_request(await _form(request), request.query.get("redirect_uri"))
        tokens = request.app[APIPHP_TOKENS]
        async with request.app[POOL].acquire() as conn:
            token = await tokens.exchange_code(conn, request.app[CONTEXT].publisher, token_request)
    except TokenRequestError as error:
        return apiphp_response(apiphp_format.error_body(error.code, error.description), fmt, 400)
    # Webasyst answers access_token alone; expires_in (RFC 6749 section 5.1) only when the operator set a lifetime.
    answer: dict[str, Any] = {"access_token": token}
    if tokens.token_ttl > 0:
        answer["expires_in"] = tokens.token_ttl
    return apiphp_response(answer, fmt)


async def revoke_presented_token(request: web.Request) -> web.Response:
    """POST /api.php/revoke with the token (query, form field or Bearer, checked by the gateway): it stops working."""
    principal = caller(request)
    fmt = apiphp_format.format_or_default(request.query.get("format"))
    if principal.credential_kind != CREDENTIAL_KIND or principal.user_id is None:
        body = apiphp_format.error_body(apiphp_format.ACCESS_DENIED, "Only an api.php access token can revoke itself")
        return apiphp_response(body, fmt, 403)
    token_id = uuid.UUID(principal.credential_id.removeprefix("apiphp:"))
    async with request.app[POOL].acquire() as conn:
        await request.app[APIPHP_TOKENS].revoke(conn, request.app[CONTEXT].publisher, token_id, principal.user_id)
    return apiphp_response({"result": "ok"}, fmt)


def _owner(request: web.Request) -> int:
    # A token handed to an application must not list or withdraw its owner's other grants.
    principal = manager(request)
    if principal.user_id is None:
        raise Forbidden("Only users have api.php tokens")
    return principal.user_id


async def list_tokens(request: web.Request) -> web.Response:
    """GET /api/apiphp/tokens: the caller's api.php tokens (never the token values, which are not stored)."""
    user_id = _owner(request)
    limit = inputs.integer(request.query.get("limit", "100"), "limit", 1, MAX_TOKENS_PAGE)
    offset = inputs.integer(request.query.get("offset", "0"), "offset", 0, 100_000)
    async with request.app[POOL].acquire() as conn:
        tokens = await request.app[APIPHP_TOKENS].list_tokens(conn, user_id, limit, offset)
    return web.json_response({"value": tokens})


async def revoke_token(request: web.Request) -> web.Response:
    """POST (or DELETE) /api/apiphp/tokens/{id}/revoke: the caller withdraws one of their tokens, at once."""
    user_id = _owner(request)
    try:
        token_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise NotFound("No such api.php token") from None
    async with request.app[POOL].acquire() as conn:
        found = await request.app[APIPHP_TOKENS].revoke(conn, request.app[CONTEXT].publisher, token_id, user_id)
    if not found:
        raise NotFound("No such api.php token")
    return web.json_response({"id": str(token_id), "revoked": True})
