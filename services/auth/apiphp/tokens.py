"""api.php codes and tokens: issuing, exchanging (POST /api.php/token), verifying for the gateway, listing, revoking.

Token lifetime is not limited (as Webasyst's) unless the operator sets APIPHP_TOKEN_TTL, so revocation is what ends a
token: the owner revokes it (or the token revokes itself at /api.php/revoke, as in Webasyst), and every gateway drops
its cached principal on the CredentialRevoked event. A token's rights are computed at each verification: its user's
current permissions narrowed by its apps (services/auth/oauth/scopes.py), so a permission removed from the user is
removed from the token too.
"""

from __future__ import annotations

import hmac
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.auth.apiphp import db
from services.auth.apiphp.authorization import AccessRequest
from services.auth.apiphp.hashing import ApiPhpHasher, is_well_formed, new_secret
from services.auth.events import RevocationPublisher
from services.auth.oauth.scopes import narrow
from services.auth.permissions import effective_permissions
from shared.messages import CredentialRevoked
from shared.principal import Principal
from shared.verification import VerifyAnswer

CODE_TTL_SECONDS = 180  # Webasyst's one-time code is valid for 3 minutes
CREDENTIAL_KIND = "apiphp_token"
GRANT_TYPE = "authorization_code"


def credential_id(token_id: uuid.UUID | str) -> str:
    return f"apiphp:{token_id}"


class TokenRequestError(Exception):
    """An error answer of /api.php/token, in the api.php format (RFC 6749 section 5.2 codes, as Webasyst uses)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True)
class TokenRequest:
    code: str
    client_id: str
    redirect_uri: str

    def __repr__(self) -> str:
        return f"TokenRequest(client_id={self.client_id!r})"


MAX_FIELD_LENGTH = 2000


def parse_token_request(form: dict[str, str], redirect_uri: str | None) -> TokenRequest:
    """Webasyst's POST fields code, client_id, grant_type=authorization_code; redirect_uri in the query string."""
    for name in ("code", "client_id", "grant_type"):
        value = form.get(name, "")
        if not value:
            raise TokenRequestError("invalid_request", f"Required parameter is missing: {name}")
        if len(value) > MAX_FIELD_LENGTH:
            raise TokenRequestError("invalid_request", f"Invalid {name}: too long")
    if form["grant_type"] != GRANT_TYPE:
        raise TokenRequestError("unsupported_grant_type", f"Invalid grant_type: use {GRANT_TYPE}")
    if redirect_uri is not None and len(redirect_uri) > MAX_FIELD_LENGTH:
        raise TokenRequestError("invalid_request", "Invalid redirect_uri: too long")
    return TokenRequest(form["code"], form["client_id"], redirect_uri or "")


class ApiPhpTokens:
    def __init__(self, hasher: ApiPhpHasher, cache_ttl: int, token_ttl: int = 0) -> None:
        self._hasher = hasher
        self._cache_ttl = cache_ttl
        # 0: tokens never expire (Webasyst's behaviour).
        self.token_ttl = token_ttl

    async def issue_code(
        self, conn: asyncpg.Connection, request: AccessRequest, user_id: int, apps: tuple[str, ...]
    ) -> str:
        code = new_secret()
        await db.purge_stale_codes(conn)
        await db.insert_code(
            conn,
            self._hasher.code(code),
            request.client_id,
            request.client_name,
            user_id,
            request.redirect_uri,
            list(apps),
            CODE_TTL_SECONDS,
        )
        return code

    async def issue_token(
        self, conn: asyncpg.Connection, user_id: int, client_id: str, client_name: str, apps: list[str]
    ) -> tuple[str, uuid.UUID]:
        token = new_secret()
        token_id = await db.insert_token(
            conn, self._hasher.token(token), user_id, client_id, client_name, apps, self.token_ttl
        )
        return token, token_id

    async def exchange_code(
        self, conn: asyncpg.Connection, publisher: RevocationPublisher, request: TokenRequest
    ) -> str:
        """The code must be unused, unexpired, and issued to this client_id for this redirect_uri."""
        invalid = TokenRequestError("invalid_grant", "Invalid code")
        if not is_well_formed(request.code):
            raise invalid
        digest = self._hasher.code(request.code)
        replayed: uuid.UUID | None = None
        async with conn.transaction():
            row = await db.consume_code(conn, digest)
            if row is None or not hmac.compare_digest(bytes(row["code_hash"]), digest):
                raise invalid
            if row["previous_use"] is not None:
                replayed = row["token_id"]
            elif row["expired"]:
                raise TokenRequestError("invalid_grant", "Authorization code has expired")
            elif not hmac.compare_digest(row["client_id"].encode(), request.client_id.encode()):
                raise invalid
            elif not hmac.compare_digest(row["redirect_uri"].encode(), request.redirect_uri.encode()):
                raise TokenRequestError("invalid_grant", "redirect_uri does not match the authorization request")
            else:
                token, token_id = await self.issue_token(
                    conn, row["user_id"], row["client_id"], row["client_name"], list(row["scopes"])
                )
                await db.link_code_to_token(conn, digest, token_id)
                return token
        # RFC 6749 section 4.1.2: a code presented twice may have been stolen; what it issued is withdrawn.
        if replayed is not None:
            await self.revoke(conn, publisher, replayed, row["user_id"], "apiphp_code_replayed")
        raise invalid

    async def verify(self, conn: asyncpg.Connection, token: str) -> VerifyAnswer | None:
        """The bearer check plugged into services/auth/verification.py: None for anything but a live token."""
        if not is_well_formed(token):
            return None
        digest = self._hasher.token(token)
        row = await db.find_token_for_verification(conn, digest)
        if row is None or not hmac.compare_digest(bytes(row["token_hash"]), digest):
            return None
        if row["revoked_at"] is not None or not row["is_active"] or row["expired"]:
            return None
        await db.touch_token(conn, row["id"])
        expires_at = row["expires_at"].timestamp() if row["expires_at"] is not None else None
        apps = tuple(row["scopes"])
        principal = Principal(
            user_id=row["user_id"],
            username=row["username"],
            # A token narrowed to its apps is not an admin credential, whoever owns it.
            is_admin=False,
            permissions=narrow(effective_permissions(row["is_admin"], row["permissions"], None), apps),
            credential_kind=CREDENTIAL_KIND,
            credential_id=credential_id(row["id"]),
            client_id=row["client_id"],
            scopes=apps,
            expires_at=expires_at,
        )
        cache_ttl = self._cache_ttl
        if expires_at is not None:
            cache_ttl = max(0, min(cache_ttl, math.floor(expires_at - time.time())))
        return VerifyAnswer(principal, cache_ttl)

    async def list_tokens(
        self, conn: asyncpg.Connection, user_id: int, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        rows = await db.list_tokens(conn, user_id, limit, offset)
        return [
            {
                "id": str(row["id"]),
                "client_id": row["client_id"],
                "client_name": row["client_name"],
                "scope": ",".join(row["scopes"]),
                "created_at": row["created_at"].isoformat(),
                "last_used_at": row["last_used_at"].isoformat() if row["last_used_at"] else None,
                "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None,
                "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
            }
            for row in rows
        ]

    async def revoke(
        self,
        conn: asyncpg.Connection,
        publisher: RevocationPublisher,
        token_id: uuid.UUID,
        user_id: int,
        reason: str = "apiphp_token_revoked",
    ) -> bool:
        """False when the user has no such token. The event is written in the revoking transaction (the outbox),
        so it is published exactly when the revocation committed."""
        async with conn.transaction():
            outcome = await db.revoke_token(conn, token_id, user_id)
            if outcome == "revoked":
                await publisher.announce(
                    conn,
                    CredentialRevoked(
                        reason=reason,
                        credential_kind=CREDENTIAL_KIND,
                        credential_id=credential_id(token_id),
                        user_id=user_id,
                    ),
                )
        return outcome is not None
