"""Thin handlers: credential verification for the gateway, the caller's own identity, the audit log."""

from __future__ import annotations

from aiohttp import web

from services.auth import accounts, inputs
from services.auth.http_inputs import caller, json_object, manager, service_caller
from services.auth.keys import CONTEXT, POOL, VERIFIER
from services.auth.verification import parse_verify_request

MAX_AUDIT_PAGE = 500
MAX_EVENT_NAME = 64


async def verify(request: web.Request) -> web.Response:
    """POST /internal/verify: the gateway asks who a credential belongs to (see CONTRACT.md)."""
    service_caller(request)
    verify_request = parse_verify_request(await json_object(request))
    async with request.app[POOL].acquire() as conn:
        verified = await request.app[VERIFIER].verify(conn, verify_request)
    return web.json_response(
        {"principal": verified.principal.to_dict(), "cache_ttl": verified.cache_ttl},
        headers={"Cache-Control": "no-store"},
    )


async def me(request: web.Request) -> web.Response:
    principal = caller(request)
    answer = {"principal": principal.to_dict()}
    if principal.user_id is not None:
        answer["user"] = await accounts.get_user(request.app[CONTEXT], principal, principal.user_id)
    return web.json_response(answer)


async def audit(request: web.Request) -> web.Response:
    principal = manager(request)
    query = request.query
    limit = inputs.integer(query.get("limit", "100"), "limit", 1, MAX_AUDIT_PAGE)
    before = inputs.integer(query["before"], "before", 1, 2**62) if "before" in query else None
    user_id = inputs.integer(query["user_id"], "user_id", 1, 2**62) if "user_id" in query else None
    event = inputs.text(dict(query), "event", MAX_EVENT_NAME, required=False)
    actor_id = inputs.integer(query["actor_user_id"], "actor_user_id", 1, 2**62) if "actor_user_id" in query else None
    entries = await accounts.audit_entries(
        request.app[CONTEXT],
        principal,
        limit,
        before,
        user_id,
        event,
        actor_user_id=actor_id,
        since=inputs.moment(query.get("since"), "since"),
        until=inputs.moment(query.get("until"), "until"),
    )
    return web.json_response({"value": entries})
