"""Users, their permissions, passwords and API access (the per-user API token for Basic auth:
docs/api-keys-and-basic.md)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.auth import db
from services.auth.context import AuthContext
from services.auth.credentials import generate_api_token
from services.auth.events import record_event
from services.auth.inputs import iso
from services.auth.oauth.tokens import ACCESS_CREDENTIAL_KIND
from services.auth.origin import audit_actor
from services.auth.passwords import hash_password, verify_password
from services.auth.permissions import effective_permissions
from shared.errors import BadRequest, Conflict, Forbidden, NotFound
from shared.messages import CredentialRevoked
from shared.platform_events import UserApiAccessChanged, new_event_id, now_iso
from shared.principal import Principal

# A regenerated token waits this long for the admin to press Save before it is discarded.
PENDING_TOKEN_LIFETIME = timedelta(hours=1)


def user_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "is_admin": row["is_admin"],
        "is_active": row["is_active"],
        "api_access_enabled": row["api_access_enabled"],
        "permissions": list(row["permissions"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


async def _editable_user(conn: asyncpg.Connection, actor: Principal, user_id: int) -> asyncpg.Record:
    actor.require("users", "update")
    row = await db.get_user(conn, user_id)
    if row is None:
        raise NotFound("No such user")
    if row["is_admin"] and not actor.is_admin:
        raise Forbidden("Only an admin may change an admin user")
    return row


async def _token_holder(conn: asyncpg.Connection, actor: Principal, user_id: int) -> asyncpg.Record:
    """The user whose API token the actor reads or changes. The admin may; anyone else only for a
    user whose every right they hold themselves, since the token lets its reader act as that user."""
    target = await _editable_user(conn, actor, user_id)
    if not actor.is_admin:
        beyond = effective_permissions(target["is_admin"], target["permissions"], None) - actor.permissions
        if beyond:
            raise Forbidden(
                "Only an admin, or a user who holds every right of this user, may see or change their API token"
            )
    return target


def _check_grantable(actor: Principal, permissions: frozenset[str]) -> None:
    beyond = permissions - actor.permissions
    if beyond:
        raise Forbidden(f"You cannot grant permissions you do not hold: {', '.join(sorted(beyond))}")


async def create_user(
    ctx: AuthContext,
    actor: Principal,
    *,
    username: str,
    email: str | None,
    password: str | None,
    is_admin: bool,
    permissions: frozenset[str],
) -> dict[str, Any]:
    actor.require("users", "create")
    if is_admin and not actor.is_admin:
        raise Forbidden("Only an admin may create an admin user")
    _check_grantable(actor, permissions)
    password_hash = await asyncio.to_thread(hash_password, password) if password is not None else None
    async with ctx.pool.acquire() as conn, conn.transaction():
        user_id = await db.insert_user(conn, username, email, password_hash, is_admin)
        await db.replace_permissions(conn, user_id, permissions)
        await db.insert_audit(
            conn,
            "user.created",
            subject_user_id=user_id,
            details={"username": username, "is_admin": is_admin, "permissions": sorted(permissions)},
            **audit_actor(actor),
        )
        row = await db.get_user(conn, user_id)
    assert row is not None
    return user_view(row)


async def list_users(ctx: AuthContext, actor: Principal, limit: int, after_id: int) -> list[dict[str, Any]]:
    actor.require("users", "read")
    async with ctx.pool.acquire() as conn:
        return [user_view(row) for row in await db.list_users(conn, limit, after_id)]


async def get_user(ctx: AuthContext, actor: Principal, user_id: int) -> dict[str, Any]:
    if actor.user_id != user_id:
        actor.require("users", "read")
    async with ctx.pool.acquire() as conn:
        row = await db.get_user(conn, user_id)
    if row is None:
        raise NotFound("No such user")
    return user_view(row)


async def update_user(ctx: AuthContext, actor: Principal, user_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            await db.lock_user(conn, user_id)
            before = await _editable_user(conn, actor, user_id)
            if "is_admin" in changes and changes["is_admin"] != before["is_admin"] and not actor.is_admin:
                raise Forbidden("Only an admin may grant or remove admin rights")
            if changes.get("is_active") is True and not before["is_active"] and not actor.is_admin:
                # A deactivation may be the answer to a compromise; undoing it gives back every right the user held.
                raise Forbidden("Only an admin may reactivate a deactivated user")
            if actor.user_id == user_id and (changes.get("is_active") is False or changes.get("is_admin") is False):
                raise BadRequest("You cannot deactivate yourself or remove your own admin rights")
            await db.update_user(conn, user_id, changes)
            changed = {name: value for name, value in changes.items() if before[name] != value}
            if changed:
                await db.insert_audit(
                    conn, "user.updated", subject_user_id=user_id, details=changed, **audit_actor(actor)
                )
            after = await db.get_user(conn, user_id)
            assert after is not None
            if before["is_active"] and not after["is_active"]:
                await ctx.publisher.user_weakened(conn, user_id, "user_deactivated", deactivated=True)
            elif before["is_admin"] and not after["is_admin"]:
                await ctx.publisher.user_weakened(conn, user_id, "admin_rights_removed")
    return user_view(after)


async def set_permissions(
    ctx: AuthContext, actor: Principal, user_id: int, permissions: frozenset[str]
) -> dict[str, Any]:
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            await db.lock_user(conn, user_id)
            await _editable_user(conn, actor, user_id)
            before = await db.get_permissions(conn, user_id)
            _check_grantable(actor, permissions - before)
            removed, added = before - permissions, permissions - before
            await db.replace_permissions(conn, user_id, permissions)
            if removed or added:
                await db.insert_audit(
                    conn,
                    "permissions.changed",
                    subject_user_id=user_id,
                    details={"added": sorted(added), "removed": sorted(removed)},
                    **audit_actor(actor),
                )
            if removed:
                await ctx.publisher.user_weakened(conn, user_id, "permissions_removed")
            after = await db.get_user(conn, user_id)
        assert after is not None
    return user_view(after)


async def set_api_access(ctx: AuthContext, actor: Principal, user_id: int, enabled: bool) -> dict[str, Any]:
    """Ticking "Enable the API" generates a token and shows it; unticking revokes access at once."""
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            await db.lock_user(conn, user_id)
            target = await _token_holder(conn, actor, user_id)
            current = await db.get_api_token(conn, user_id)
            if not enabled:
                removed = await db.delete_api_token(conn, user_id)
                if removed:
                    await db.insert_audit(
                        conn,
                        "api_token.disabled",
                        subject_user_id=user_id,
                        credential_id=f"api_token:{user_id}",
                        **audit_actor(actor),
                    )
                    await ctx.publisher.token_revoked(conn, user_id, "api_access_disabled")
                    await _record_api_access(conn, user_id, enabled=False)
            elif current is not None:
                # Ticking a box already ticked changes nothing and reveals nothing: reading the token is its own,
                # audited, operation (show_api_token).
                return {"enabled": True, "username": target["username"], "already_enabled": True}
            else:
                token = generate_api_token()
                await db.put_api_token(conn, user_id, ctx.hasher.api_token(token), ctx.cipher.encrypt(token, user_id))
                await db.insert_audit(
                    conn,
                    "api_token.enabled",
                    subject_user_id=user_id,
                    credential_id=f"api_token:{user_id}",
                    **audit_actor(actor),
                )
                await _record_api_access(conn, user_id, enabled=True)
                return {"enabled": True, "username": target["username"], "token": token}
    return {"enabled": False, "username": target["username"]}


async def _record_api_access(conn: asyncpg.Connection, user_id: int, *, enabled: bool) -> None:
    await record_event(
        conn, UserApiAccessChanged(event_id=new_event_id(), occurred_at=now_iso(), user_id=user_id, enabled=enabled)
    )


async def show_api_token(ctx: AuthContext, actor: Principal, user_id: int) -> dict[str, Any]:
    """The Users area shows the current token in an input box to an admin who can edit the user."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        target = await _token_holder(conn, actor, user_id)
        current = await db.get_api_token(conn, user_id)
        if current is None:
            raise NotFound("API access is not enabled for this user", target="api_access")
        token = ctx.cipher.decrypt(bytes(current["token_encrypted"]), user_id)
        if token is None:
            raise Conflict("The stored token cannot be shown (the encryption key changed); regenerate it")
        await db.insert_audit(
            conn,
            "api_token.viewed",
            subject_user_id=user_id,
            credential_id=f"api_token:{user_id}",
            **audit_actor(actor),
        )
    return {
        "username": target["username"],
        "token": token,
        "created_at": iso(current["created_at"]),
        "last_used_at": iso(current["last_used_at"]),
    }


async def regenerate_api_token(ctx: AuthContext, actor: Principal, user_id: int) -> dict[str, Any]:
    """The new token is shown now and "will only take effect when the Save button is pressed"."""
    token = generate_api_token()
    pending_id = uuid.uuid4()
    expires_at = datetime.now(UTC) + PENDING_TOKEN_LIFETIME
    async with ctx.pool.acquire() as conn, conn.transaction():
        await db.lock_user(conn, user_id)
        target = await _token_holder(conn, actor, user_id)
        if await db.get_api_token(conn, user_id) is None:
            raise Conflict("API access is not enabled for this user; enable it first", target="api_access")
        await db.insert_pending_api_token(
            conn,
            pending_id,
            user_id,
            ctx.hasher.api_token(token),
            ctx.cipher.encrypt(token, user_id),
            actor.user_id,
            expires_at,
        )
        await db.insert_audit(
            conn,
            "api_token.regeneration_started",
            subject_user_id=user_id,
            credential_id=f"api_token:{user_id}",
            **audit_actor(actor),
        )
    return {
        "username": target["username"],
        "pending_id": str(pending_id),
        "token": token,
        "expires_at": iso(expires_at),
        "takes_effect": "when saved with POST /api/users/{id}/api-token/save",
    }


async def save_api_token(ctx: AuthContext, actor: Principal, user_id: int, pending_id: uuid.UUID) -> dict[str, Any]:
    """Save: the pending token replaces the current one, which stops working at once."""
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            await db.lock_user(conn, user_id)
            target = await _token_holder(conn, actor, user_id)
            if await db.get_api_token(conn, user_id) is None:
                raise Conflict("API access is not enabled for this user", target="api_access")
            pending = await db.take_pending_api_token(conn, pending_id, user_id)
            if pending is None:
                raise BadRequest(
                    "No such pending token (expired or already saved); regenerate again", target="pending_id"
                )
            await db.put_api_token(conn, user_id, bytes(pending["token_hash"]), bytes(pending["token_encrypted"]))
            await db.insert_audit(
                conn,
                "api_token.regenerated",
                subject_user_id=user_id,
                credential_id=f"api_token:{user_id}",
                **audit_actor(actor),
            )
            await ctx.publisher.token_revoked(conn, user_id, "token_regenerated")
    return {"username": target["username"], "saved": True}


@dataclass(frozen=True)
class PasswordChangeEffects:
    """What a new password ends besides the old one (OWASP ASVS 3.3.3): the user's other sign-in sessions always,
    and, when asked, their OAuth refresh tokens (with the access tokens of those families) at every app."""

    keep_session_hash: bytes | None = None  # the session that made the change, kept signed in
    revoke_refresh_tokens: bool = False


# The sessions end, nothing else (frozen, so one shared default is safe).
SESSIONS_ONLY = PasswordChangeEffects()


async def _apply_password_change(
    ctx: AuthContext, conn: asyncpg.Connection, user_id: int, effects: PasswordChangeEffects
) -> dict[str, int]:
    ended = await db.end_sign_in_sessions(conn, user_id, effects.keep_session_hash)
    revoked = await db.revoke_user_refresh_tokens(conn, user_id) if effects.revoke_refresh_tokens else []
    for row in revoked:
        await ctx.publisher.announce(
            conn,
            CredentialRevoked(
                reason="password_changed",
                credential_kind=ACCESS_CREDENTIAL_KIND,
                credential_id=str(row["jti"]),
                user_id=row["user_id"],
            ),
        )
    return {"sessions_ended": ended, "access_tokens_revoked": len(revoked)}


async def change_own_password(
    ctx: AuthContext,
    actor: Principal,
    current: str,
    new: str,
    effects: PasswordChangeEffects = SESSIONS_ONLY,
) -> dict[str, int]:
    if actor.user_id is None:
        raise Forbidden("Only a user has a password to change")
    async with ctx.pool.acquire() as conn:
        stored = await db.get_password_hash(conn, actor.user_id)
    if not await asyncio.to_thread(verify_password, stored, current):
        raise BadRequest("The current password is not correct", target="current_password")
    new_hash = await asyncio.to_thread(hash_password, new)
    async with ctx.pool.acquire() as conn, conn.transaction():
        await db.set_password_hash(conn, actor.user_id, new_hash)
        outcome = await _apply_password_change(ctx, conn, actor.user_id, effects)
        await db.insert_audit(
            conn, "password.changed", subject_user_id=actor.user_id, details=outcome, **audit_actor(actor)
        )
    return outcome


async def reset_password(
    ctx: AuthContext,
    actor: Principal,
    user_id: int,
    new: str,
    effects: PasswordChangeEffects = SESSIONS_ONLY,
) -> dict[str, int]:
    if not actor.is_admin:
        raise Forbidden("Only an admin may reset another user's password")
    new_hash = await asyncio.to_thread(hash_password, new)
    if actor.user_id != user_id:
        effects = PasswordChangeEffects(None, effects.revoke_refresh_tokens)
    async with ctx.pool.acquire() as conn, conn.transaction():
        if await db.get_user(conn, user_id) is None:
            raise NotFound("No such user")
        await db.set_password_hash(conn, user_id, new_hash)
        outcome = await _apply_password_change(ctx, conn, user_id, effects)
        await db.insert_audit(conn, "password.reset", subject_user_id=user_id, details=outcome, **audit_actor(actor))
    return outcome


async def audit_entries(
    ctx: AuthContext,
    actor: Principal,
    limit: int,
    before_id: int | None,
    subject_user_id: int | None,
    event: str | None,
    *,
    actor_user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    if not actor.is_admin:
        raise Forbidden("Only an admin may read the audit log")
    async with ctx.pool.acquire() as conn:
        rows = await db.list_audit(
            conn, limit, before_id, subject_user_id, event, actor_user_id=actor_user_id, since=since, until=until
        )
    return [
        {
            "id": row["id"],
            "occurred_at": iso(row["occurred_at"]),
            "event": row["event"],
            "actor_user_id": row["actor_user_id"],
            "actor": row["actor"],
            "subject_user_id": row["subject_user_id"],
            "subject": row["subject"],
            "credential_id": row["credential_id"],
            "client_ip": row["client_ip"],
            "details": _json(row["details"]),
        }
        for row in rows
    ]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
