"""Last-used times and failed-attempt counts, gathered in memory and written in batches.

Verification is the hot path: writing last_used_at on every request would turn each API call into a database
write. Instead uses are remembered here and flushed every few seconds by a background task (and at shutdown);
failed attempts go to the audit log in bulk, one row per (kind, client address, username) per flush.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime

import asyncpg

from services.auth import db

log = logging.getLogger(__name__)

MAX_FAILURE_GROUPS = 10_000


class UsageRecorder:
    def __init__(self) -> None:
        # credential -> (when, from which address) of its latest use since the last flush
        self._keys: dict[str, tuple[float, str | None]] = {}
        self._tokens: dict[int, tuple[float, str | None]] = {}
        self._failures: Counter[tuple[str, str | None, str | None]] = Counter()

    def key_used(self, key_id: str, client_ip: str | None) -> None:
        self._keys[key_id] = (time.time(), client_ip)

    def token_used(self, user_id: int, client_ip: str | None) -> None:
        self._tokens[user_id] = (time.time(), client_ip)

    def failed(self, kind: str, client_ip: str | None, username: str | None) -> None:
        group = (kind, client_ip, username)
        if group not in self._failures and len(self._failures) >= MAX_FAILURE_GROUPS:
            group = (kind, None, None)  # still counted, without the detail, when an attacker floods names
        self._failures[group] += 1

    @property
    def pending(self) -> int:
        return len(self._keys) + len(self._tokens) + len(self._failures)

    async def flush(self, pool: asyncpg.Pool) -> None:
        keys, self._keys = self._keys, {}
        tokens, self._tokens = self._tokens, {}
        failures, self._failures = self._failures, Counter()
        if not (keys or tokens or failures):
            return
        try:
            async with pool.acquire() as conn, conn.transaction():
                if keys:
                    first_uses = await db.record_key_usage(conn, list(keys), [_at(t) for t, _ in keys.values()])
                    for key_id, user_id in first_uses:
                        await db.insert_audit(
                            conn,
                            "api_key.first_used",
                            subject_user_id=user_id,
                            credential_id=key_id,
                            client_ip=keys[key_id][1],
                        )
                if tokens:
                    first_uses = await db.record_token_usage(conn, list(tokens), [_at(t) for t, _ in tokens.values()])
                    for user_id in first_uses:
                        await db.insert_audit(
                            conn,
                            "api_token.first_used",
                            subject_user_id=user_id,
                            credential_id=f"api_token:{user_id}",
                            client_ip=tokens[user_id][1],
                        )
                for (kind, client_ip, username), count in failures.items():
                    await db.insert_audit(
                        conn,
                        "verify.failed",
                        client_ip=client_ip,
                        details={"kind": kind, "username": username, "count": count},
                    )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            # Put them back so the next flush retries; newer uses win.
            for key_id, at in keys.items():
                self._keys.setdefault(key_id, at)
            for user_id, at in tokens.items():
                self._tokens.setdefault(user_id, at)
            self._failures.update(failures)
            log.warning("could not record credential usage: %s", type(error).__name__)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
