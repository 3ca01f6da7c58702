"""API keys (docs/api-keys-and-basic.md): create (shown once), list, revoke, rotate with a grace period, announce
expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.auth import db
from services.auth.context import AuthContext
from services.auth.credentials import display_prefix, generate_api_key
from services.auth.events import record_event
from services.auth.inputs import iso
from services.auth.origin import audit_actor
from services.auth.permissions import effective_permissions
from shared.errors import BadRequest, Conflict, Forbidden, NotFound
from shared.platform_events import ApiKeyCreated, ApiKeyRevoked, new_event_id, now_iso
from shared.principal import Principal

MAX_GRACE_SECONDS = 30 * 24 * 3600


def key_view(row: asyncpg.Record, now: datetime | None = None) -> dict[str, Any]:
    current = now or datetime.now(UTC)
    if row["revoked_at"] is not None:
        status = "revoked"
    elif row["expires_at"] is not None and row["expires_at"] <= current:
        status = "expired"
    else:
        status = "active"
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "prefix": row["prefix"],
        "user_id": row["user_id"],
        "username": row["username"],
        "scope": sorted(row["scope"]) if row["scope"] is not None else None,
        "status": status,
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row["expires_at"]),
        "last_used_at": iso(row["last_used_at"]),
        "revoked_at": iso(row["revoked_at"]),
        "rotated_to": str(row["rotated_to"]) if row["rotated_to"] is not None else None,
    }


async def _owner_rights(conn: asyncpg.Connection, owner_id: int) -> frozenset[str]:
    owner = await db.get_user(conn, owner_id)
    if owner is None:
        raise NotFound("No such user", target="user_id")
    if not owner["is_active"]:
        raise Conflict("The user is deactivated", target="user_id")
    return effective_permissions(owner["is_admin"], owner["permissions"], None)


def _check_rights(actor: Principal, owner_rights: frozenset[str], scope: frozenset[str] | None) -> None:
    if scope is not None and not scope <= owner_rights:
        beyond = ", ".join(sorted(scope - owner_rights))
        raise BadRequest(f"A key's scope may only narrow its owner's permissions; not held: {beyond}", target="scope")
    rights = owner_rights if scope is None else scope
    if not actor.is_admin and not rights <= actor.permissions:
        # Otherwise a narrowed key could mint an unnarrowed one.
        raise Forbidden("A new key cannot carry more rights than the credential creating it; give it a scope")


async def create_key(
    ctx: AuthContext,
    actor: Principal,
    *,
    name: str,
    expires_at: datetime | None,
    scope: frozenset[str] | None,
    owner_id: int | None = None,
) -> dict[str, Any]:
    actor.require("api_keys", "create")
    owner = actor.user_id if owner_id is None else owner_id
    if owner is None:
        raise BadRequest("Say which user the key belongs to", target="user_id")
    if owner != actor.user_id and not actor.is_admin:
        raise Forbidden("Only an admin may create a key for another user")
    key = generate_api_key()
    key_id = uuid.uuid4()
    async with ctx.pool.acquire() as conn, conn.transaction():
        _check_rights(actor, await _owner_rights(conn, owner), scope)
        await db.insert_api_key(
            conn,
            key_id,
            owner,
            name,
            display_prefix(key),
            ctx.hasher.api_key(key),
            sorted(scope) if scope is not None else None,
            expires_at,
        )
        await db.insert_audit(
            conn,
            "api_key.created",
            subject_user_id=owner,
            credential_id=str(key_id),
            details={"name": name, "prefix": display_prefix(key), "expires_at": iso(expires_at)},
            **audit_actor(actor),
        )
        await record_event(
            conn,
            ApiKeyCreated(
                event_id=new_event_id(),
                occurred_at=now_iso(),
                key_id=str(key_id),
                user_id=owner,
                name=name,
                prefix=display_prefix(key),
                expires_at=iso(expires_at),
            ),
        )
        row = await db.get_api_key(conn, key_id)
    assert row is not None
    return {**key_view(row), "key": key}


async def list_keys(
    ctx: AuthContext, actor: Principal, all_users: bool, limit: int, offset: int
) -> list[dict[str, Any]]:
    actor.require("api_keys", "read")
    if all_users and not actor.is_admin:
        raise Forbidden("Only an admin may list every user's keys")
    if not all_users and actor.user_id is None:
        raise BadRequest("Only a user has keys of their own")
    async with ctx.pool.acquire() as conn:
        rows = await db.list_api_keys(conn, None if all_users else actor.user_id, limit, offset)
    now = datetime.now(UTC)
    return [key_view(row, now) for row in rows]


async def _own_key(conn: asyncpg.Connection, actor: Principal, key_id: uuid.UUID) -> asyncpg.Record:
    row = await db.get_api_key(conn, key_id)
    # Someone else's key is "not found" to a non-admin: its existence is not theirs to learn.
    if row is None or (row["user_id"] != actor.user_id and not actor.is_admin):
        raise NotFound("No such API key")
    return row


async def get_key(ctx: AuthContext, actor: Principal, key_id: uuid.UUID) -> dict[str, Any]:
    actor.require("api_keys", "read")
    async with ctx.pool.acquire() as conn:
        return key_view(await _own_key(conn, actor, key_id))


async def revoke_key(ctx: AuthContext, actor: Principal, key_id: uuid.UUID) -> dict[str, Any]:
    actor.require("api_keys", "delete")
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            row = await _own_key(conn, actor, key_id)
            revoked = await db.revoke_api_key(conn, key_id)
            if revoked:
                await db.insert_audit(
                    conn,
                    "api_key.revoked",
                    subject_user_id=row["user_id"],
                    credential_id=str(key_id),
                    details={"name": row["name"], "prefix": row["prefix"]},
                    **audit_actor(actor),
                )
                await ctx.publisher.key_revoked(conn, str(key_id), row["user_id"], "revoked")
                await record_event(
                    conn,
                    ApiKeyRevoked(
                        event_id=new_event_id(),
                        occurred_at=now_iso(),
                        key_id=str(key_id),
                        user_id=row["user_id"],
                        reason="revoked",
                    ),
                )
            after = await db.get_api_key(conn, key_id)
    assert after is not None
    return key_view(after)


async def rotate_key(ctx: AuthContext, actor: Principal, key_id: uuid.UUID, grace_seconds: int) -> dict[str, Any]:
    """A new key with the same name, owner and scope; the old one keeps working for the grace period only."""
    actor.require("api_keys", "create")
    now = datetime.now(UTC)
    new_key = generate_api_key()
    new_id = uuid.uuid4()
    async with ctx.pool.acquire() as conn:
        async with conn.transaction():
            old = await _own_key(conn, actor, key_id)
            if old["revoked_at"] is not None or (old["expires_at"] is not None and old["expires_at"] <= now):
                raise Conflict("Only an active key can be rotated")
            scope = frozenset(old["scope"]) if old["scope"] is not None else None
            _check_rights(actor, await _owner_rights(conn, old["user_id"]), scope)
            await db.insert_api_key(
                conn,
                new_id,
                old["user_id"],
                old["name"],
                display_prefix(new_key),
                ctx.hasher.api_key(new_key),
                old["scope"],
                old["expires_at"],
            )
            await db.shorten_api_key(conn, key_id, now + timedelta(seconds=grace_seconds), new_id)
            await db.insert_audit(
                conn,
                "api_key.rotated",
                subject_user_id=old["user_id"],
                credential_id=str(key_id),
                details={"new_key_id": str(new_id), "grace_seconds": grace_seconds, "name": old["name"]},
                **audit_actor(actor),
            )
            # Gateways re-verify the old key and cache it no longer than its new, earlier expiry.
            await ctx.publisher.key_revoked(conn, str(key_id), old["user_id"], "rotated")
            await record_event(
                conn,
                ApiKeyCreated(
                    event_id=new_event_id(),
                    occurred_at=now_iso(),
                    key_id=str(new_id),
                    user_id=old["user_id"],
                    name=old["name"],
                    prefix=display_prefix(new_key),
                    expires_at=iso(old["expires_at"]),
                    rotated_from=str(key_id),
                ),
            )
            new_row = await db.get_api_key(conn, new_id)
            old_row = await db.get_api_key(conn, key_id)
    assert new_row is not None and old_row is not None
    return {**key_view(new_row), "key": new_key, "previous": key_view(old_row)}


async def announce_expired_keys(ctx: AuthContext) -> int:
    """Tell gateways about keys whose expiry has passed (they also stop caching at expiry on their own)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        expired = await db.claim_expired_api_keys(conn)
        for row in expired:
            await db.insert_audit(conn, "api_key.expired", subject_user_id=row["user_id"], credential_id=str(row["id"]))
            await ctx.publisher.key_revoked(conn, str(row["id"]), row["user_id"], "expired")
            await record_event(
                conn,
                ApiKeyRevoked(
                    event_id=new_event_id(),
                    occurred_at=now_iso(),
                    key_id=str(row["id"]),
                    user_id=row["user_id"],
                    reason="expired",
                ),
            )
    return len(expired)
