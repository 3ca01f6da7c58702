"""Sign-in sessions of the login and consent pages, each with its CSRF token; stored by keyed hash of the id."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import asyncpg

from services.auth.oauth import db
from services.auth.oauth.client_secrets import OAuthHasher, new_session_id

MAX_SESSION_ID_LENGTH = 100


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int | None
    username: str | None
    csrf_token: str

    def __repr__(self) -> str:
        return f"Session(user_id={self.user_id!r})"

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(presented.encode(), self.csrf_token.encode())


class SessionStore:
    def __init__(self, hasher: OAuthHasher, ttl_seconds: int) -> None:
        self._hasher = hasher
        self.ttl_seconds = ttl_seconds

    async def load(self, conn: asyncpg.Connection, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
            return None
        row = await db.get_session(conn, self._hasher.session(session_id))
        if row is None:
            return None
        signed_in = row["user_id"] is not None and row["is_active"]
        return Session(
            session_id,
            row["user_id"] if signed_in else None,
            row["username"] if signed_in else None,
            row["csrf_token"],
        )

    async def start(self, conn: asyncpg.Connection, user_id: int | None, username: str | None = None) -> Session:
        """A new session (a new id after signing in, so an id planted before it is worth nothing)."""
        session = Session(new_session_id(), user_id, username, secrets.token_urlsafe(32))
        await db.insert_session(conn, self._hasher.session(session.id), user_id, session.csrf_token, self.ttl_seconds)
        return session

    async def end(self, conn: asyncpg.Connection, session_id: str) -> None:
        await db.delete_session(conn, self._hasher.session(session_id))
