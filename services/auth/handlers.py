"""Thin handlers: credential verification for the gateway, the caller's own identity, the audit log."""

from __future__ import annotations

from aiohttp import web

from services.auth import accounts, db, inputs
from services.auth.http_inputs import caller, json_object, manager, service_caller
from services.auth.keys import CONTEXT, POOL, VERIFIER
from services.auth.permissions import effective_permissions
from shared.errors import NotFound
from shared.verification import VerifyRequest

MAX_AUDIT_PAGE = 500
MAX_EVENT_NAME = 64


async def verify(request: web.Request) -> web.Response:
    """POST /internal/verify: the gateway asks who a credential belongs to (shared/verification.py)."""
    service_caller(request)
    verify_request = VerifyRequest.from_dict(await json_object(request))
    async with request.app[POOL].acquire() as conn:
        answer = await request.app[VERIFIER].verify(conn, verify_request)
    return web.json_response(answer.to_dict(), headers={"Cache-Control": "no-store"})


async def user_access(request: web.Request) -> web.Response:
    """GET /internal/users/{id}/access: whether a user is active and what they may do (the webhooks service asks
    before each delivery to a subscription the user owns)."""
    service_caller(request)
    user_id = inputs.integer(request.match_info["id"], "id", 1, 2**62)
    async with request.app[POOL].acquire() as conn:
        row = await db.get_user(conn, user_id)
        if row is None:
            raise NotFound("No such user")
        granted = await db.get_permissions(conn, user_id)
    access = {
        "user_id": user_id,
        "active": row["is_active"],
        "is_admin": row["is_admin"],
        "permissions": sorted(effective_permissions(row["is_admin"], granted, None)),
    }
    return web.json_response(access, headers={"Cache-Control": "no-store"})


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
