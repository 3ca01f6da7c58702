"""Developer accounts ("Create a Developer Account"): a signed-in user becomes a developer, who may then
create OAuth apps. Where the operator asks for it (DEVELOPER_SIGNUP=approval) an admin approves each request first.
Becoming a developer grants the apps permissions; nothing else changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from services.auth import db
from services.auth.context import AuthContext
from services.auth.inputs import iso
from services.auth.oauth import db as oauth_db
from services.auth.oauth.client_secrets import new_developer_key
from services.auth.origin import audit_actor
from shared.errors import BadRequest, Forbidden, NotFound
from shared.principal import Principal

DEVELOPER_PERMISSIONS = frozenset({"apps:read", "apps:create", "apps:update", "apps:delete"})
MAX_REASON_LENGTH = 500
PENDING_SHOWN = 200


@dataclass(frozen=True)
class DeveloperStatus:
    """is_developer: holds the apps permissions; request: "pending", "declined" or None."""

    is_developer: bool
    request: str | None


def is_developer(principal: Principal) -> bool:
    return principal.is_admin or DEVELOPER_PERMISSIONS <= principal.permissions


async def status_of(ctx: AuthContext, principal: Principal) -> DeveloperStatus:
    assert principal.user_id is not None
    async with ctx.pool.acquire() as conn:
        row = await db.get_developer_request(conn, principal.user_id)
    pending_or_declined = row["status"] if row is not None and row["status"] != "approved" else None
    return DeveloperStatus(is_developer(principal), pending_or_declined)


async def _make_developer(conn: asyncpg.Connection, user_id: int) -> None:
    permissions = await db.get_permissions(conn, user_id)
    await db.replace_permissions(conn, user_id, permissions | DEVELOPER_PERMISSIONS)
    await oauth_db.ensure_developer(conn, user_id, new_developer_key())


async def request_account(ctx: AuthContext, actor: Principal, reason: str, need_approval: bool) -> str:
    """ "granted" (at once), "pending" (an admin decides) or "already" (the user is a developer)."""
    if actor.user_id is None:
        raise BadRequest("Only a user can become a developer")
    if len(reason) > MAX_REASON_LENGTH or any(ord(char) < 0x20 and char not in "\n\r\t" for char in reason):
        raise BadRequest(f"The reason is at most {MAX_REASON_LENGTH} printable characters", target="reason")
    if is_developer(actor):
        return "already"
    async with ctx.pool.acquire() as conn, conn.transaction():
        await db.lock_user(conn, actor.user_id)
        current = await db.get_developer_request(conn, actor.user_id)
        if current is not None and current["status"] == "pending":
            return "pending"
        outcome = "pending" if need_approval else "granted"
        await db.put_developer_request(conn, actor.user_id, reason, "pending" if need_approval else "approved")
        if not need_approval:
            await _make_developer(conn, actor.user_id)
        event = "developer.requested" if need_approval else "developer.enrolled"
        await db.insert_audit(
            conn, event, subject_user_id=actor.user_id, details={"reason": reason[:200]}, **audit_actor(actor)
        )
    return outcome


async def pending_requests(ctx: AuthContext, actor: Principal) -> list[dict[str, Any]]:
    if not actor.is_admin:
        raise Forbidden("Only an admin may decide developer requests")
    async with ctx.pool.acquire() as conn:
        rows = await db.list_pending_developer_requests(conn, PENDING_SHOWN)
    return [
        {
            "user_id": row["user_id"],
            "username": row["username"],
            "email": row["email"],
            "reason": row["reason"],
            "requested_at": iso(row["requested_at"]),
        }
        for row in rows
    ]


async def decide(ctx: AuthContext, actor: Principal, user_id: int, approve: bool) -> None:
    if not actor.is_admin:
        raise Forbidden("Only an admin may decide developer requests")
    async with ctx.pool.acquire() as conn, conn.transaction():
        await db.lock_user(conn, user_id)
        if not await db.decide_developer_request(conn, user_id, "approved" if approve else "declined", actor.user_id):
            raise NotFound("No pending developer request for this user")
        if approve:
            await _make_developer(conn, user_id)
        await db.insert_audit(
            conn,
            "developer.approved" if approve else "developer.declined",
            subject_user_id=user_id,
            **audit_actor(actor),
        )
