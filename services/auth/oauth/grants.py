"""The three grants of the token endpoint, one class each: GRANT_TYPE, a validate step, a create_response step.

A grant is made per request by the AuthorizationServer, after the client has authenticated and is known to be
allowed this grant type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from typing import TYPE_CHECKING, ClassVar

import asyncpg

from services.auth.oauth import db
from services.auth.oauth.clients import OAuthClient
from services.auth.oauth.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from services.auth.oauth.requests import TokenRequest
from services.auth.oauth.scopes import narrow, parse_scope
from services.auth.oauth.tokens import IssuedTokens, Subject
from services.auth.permissions import effective_permissions

if TYPE_CHECKING:
    from services.auth.oauth.server import AuthorizationServer

CODE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(code_verifier: str) -> str:
    """RFC 7636 section 4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    return base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode("ascii")).digest()).rstrip(b"=").decode()


async def user_subject(conn: asyncpg.Connection, user_id: int, scopes: tuple[str, ...]) -> Subject | None:
    """The user's current rights narrowed by the scopes; None when the user is gone or deactivated."""
    row = await db.get_user_rights(conn, user_id)
    if row is None or not row["is_active"]:
        return None
    rights = effective_permissions(row["is_admin"], row["permissions"], None)
    return Subject(row["id"], row["username"], row["is_admin"], narrow(rights, scopes), row["not_before"])


class Grant:
    GRANT_TYPE: ClassVar[str] = ""

    def __init__(self, server: AuthorizationServer, request: TokenRequest, client: OAuthClient) -> None:
        self.server = server
        self.request = request
        self.client = client

    async def validate(self, conn: asyncpg.Connection) -> None:
        raise NotImplementedError

    async def create_response(self, conn: asyncpg.Connection) -> IssuedTokens:
        raise NotImplementedError


class AuthorizationCodeGrant(Grant):
    """RFC 6749 section 4.1.3 with PKCE (RFC 7636 section 4.6). A code is single use: the first presentation marks it
    used whatever follows; a second presentation revokes the tokens the first one obtained (section 4.1.2)."""

    GRANT_TYPE = "authorization_code"

    async def validate(self, conn: asyncpg.Connection) -> None:
        code = self.request.require("code")
        tokens = self.server.tokens
        row = await db.consume_code(conn, tokens.hasher.code(code))
        if row is None:
            raise InvalidGrant("The authorization code is invalid")
        if not row["first_use"]:
            if row["family_id"] is not None:
                await tokens.revoke_family(conn, row["family_id"], "oauth_code_replayed")
            raise InvalidGrant("The authorization code was already used")
        if not row["usable"]:
            raise InvalidGrant("The authorization code has expired")
        if row["client_id"] != self.client.client_id:
            raise InvalidGrant("The authorization code is invalid")
        self._check_redirect_uri(row)
        self._check_code_verifier(row["code_challenge"])
        subject = await user_subject(conn, row["user_id"], tuple(row["scopes"]))
        if subject is None:
            raise InvalidGrant("The authorization code is invalid")
        self.code_hash = tokens.hasher.code(code)
        self.subject = subject
        self.scopes = tuple(row["scopes"])

    def _check_redirect_uri(self, row: asyncpg.Record) -> None:
        """Section 4.1.3: the same redirect_uri as the authorization request, if that request named one."""
        redirect_uri = self.request.get("redirect_uri")
        if row["redirect_uri_given"] and redirect_uri is None:
            raise InvalidRequest("The redirect_uri parameter is missing")
        if redirect_uri is not None and redirect_uri != row["redirect_uri"]:
            raise InvalidGrant("The redirect_uri does not match the authorization request")

    def _check_code_verifier(self, challenge: str | None) -> None:
        """RFC 7636 section 4.6: the verifier whose S256 digest is the code's challenge, and none without one."""
        verifier = self.request.get("code_verifier")
        if challenge is None:
            if verifier is not None:
                raise InvalidGrant("A code_verifier was sent for a code issued without a code challenge")
            return
        if verifier is None:
            raise InvalidRequest("The code_verifier parameter is missing")
        if not CODE_VERIFIER.match(verifier) or not hmac.compare_digest(s256(verifier), challenge):
            raise InvalidGrant("The code_verifier does not match the code challenge")

    async def create_response(self, conn: asyncpg.Connection) -> IssuedTokens:
        family_id = uuid.uuid4()
        await db.set_code_family(conn, self.code_hash, family_id)
        return await self.server.tokens.issue(
            conn,
            self.client,
            self.subject,
            self.scopes,
            family_id=family_id,
            with_refresh_token=self.client.allows_grant("refresh_token"),
        )


class RefreshTokenGrant(Grant):
    """RFC 6749 section 6, with rotation (RFC 9700 section 4.14.2): each use returns a new refresh token; presenting a
    rotated one again means it was stolen, so the whole family is revoked. A narrower `scope` narrows the new access
    token only: the new refresh token keeps the original scope, and the family's absolute end."""

    GRANT_TYPE = "refresh_token"

    async def validate(self, conn: asyncpg.Connection) -> None:
        token = self.request.require("refresh_token")
        tokens = self.server.tokens
        token_hash = tokens.hasher.refresh_token(token)
        found = await db.find_refresh_token(conn, token_hash)
        if found is None or found["client_id"] != self.client.client_id:
            raise InvalidGrant("The refresh token is invalid")
        requested = parse_scope(self.request.get("scope"))
        original = tuple(found["scopes"])
        if requested is not None and not set(requested) <= set(original):
            raise InvalidScope("The requested scope exceeds the scope originally granted")
        row = await db.rotate_refresh_token(conn, token_hash)
        if row is None:
            raise InvalidGrant("The refresh token is invalid")
        if not row["first_use"]:
            await tokens.revoke_family(conn, row["family_id"], "oauth_refresh_token_reused")
            raise InvalidGrant("The refresh token was already used or revoked")
        if not row["usable"]:
            raise InvalidGrant("The refresh token has expired")
        scopes = requested or original
        subject = await user_subject(conn, row["user_id"], scopes)
        if subject is None or not await db.has_consent(conn, row["user_id"], self.client.client_id):
            await tokens.revoke_family(conn, row["family_id"], "oauth_user_access_withdrawn")
            raise InvalidGrant("The refresh token is invalid")
        self.family_id = row["family_id"]
        self.family_expires_at = row["family_expires_at"]
        self.subject = subject
        self.scopes = scopes
        self.original_scopes = original

    async def create_response(self, conn: asyncpg.Connection) -> IssuedTokens:
        return await self.server.tokens.issue(
            conn,
            self.client,
            self.subject,
            self.scopes,
            family_id=self.family_id,
            with_refresh_token=True,
            refresh_scopes=self.original_scopes,
            family_expires_at=self.family_expires_at,
        )


class ClientCredentialsGrant(Grant):
    """RFC 6749 section 4.4: a confidential client acting for itself, with the rights its owner granted it (never
    more than the owner holds now) narrowed by the requested scopes. No refresh token (section 4.4.3)."""

    GRANT_TYPE = "client_credentials"

    async def validate(self, conn: asyncpg.Connection) -> None:
        if not self.client.is_confidential:
            raise UnauthorizedClient("A public client cannot use client_credentials")
        requested = parse_scope(self.request.get("scope"))
        scopes = requested if requested is not None else self.client.scopes
        if not set(scopes) <= set(self.client.scopes):
            raise InvalidScope("The requested scope is not allowed for this client")
        owner = await db.get_user_rights(conn, self.client.owner_user_id)
        if owner is None or not owner["is_active"]:
            raise UnauthorizedClient("The client's owner can no longer grant it access")
        owner_rights = effective_permissions(owner["is_admin"], owner["permissions"], None)
        rights = narrow(self.client.granted_permissions & owner_rights, scopes)
        # The client id, never its display name: another developer may give an app the same name.
        self.subject = Subject(None, f"client:{self.client.client_id}", False, rights, owner["not_before"])
        self.scopes = tuple(scopes)

    async def create_response(self, conn: asyncpg.Connection) -> IssuedTokens:
        return await self.server.tokens.issue(
            conn, self.client, self.subject, self.scopes, family_id=None, with_refresh_token=False
        )
