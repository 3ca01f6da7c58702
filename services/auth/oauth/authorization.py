"""The authorization endpoint's protocol (RFC 6749 section 4.1.1 and 4.1.2, PKCE per RFC 7636), without aiohttp.

Until the client and its redirect URI are known to be genuine, every problem is an AuthorizationPageError shown to
the user and never a redirect (section 4.1.2.1: an open redirector otherwise). After that, errors go back to the
client's redirect URI with `error` and the client's `state`. Every answer sent back to a client names this server in
`iss` (RFC 9207), so a client talking to several servers cannot be sent a code from the wrong one (mix-up attacks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from services.auth.events import record_event
from services.auth.oauth import db
from services.auth.oauth.client_secrets import OAuthHasher, new_code
from services.auth.oauth.clients import OAuthClient
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.errors import (
    AuthorizationPageError,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from services.auth.oauth.requests import single_valued
from services.auth.oauth.scopes import DEFAULT_SCOPE, parse_scope
from shared.platform_events import AppAuthorized, new_event_id, now_iso

CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
MAX_STATE_LENGTH = 500
PARAMETERS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "prompt",
)


@dataclass(frozen=True)
class AuthorizationRequest:
    client: OAuthClient
    redirect_uri: str
    redirect_uri_given: bool
    scopes: tuple[str, ...]
    state: str
    code_challenge: str | None
    # OpenID Connect's prompt=consent: ask the user even when an earlier consent covers the scopes.
    consent_prompted: bool = False

    def as_params(self) -> dict[str, str]:
        """The request again, for the consent form and the login page's way back."""
        params = {"client_id": self.client.client_id, "response_type": "code", "state": self.state}
        params["scope"] = " ".join(self.scopes)
        if self.redirect_uri_given:
            params["redirect_uri"] = self.redirect_uri
        if self.code_challenge is not None:
            params["code_challenge"] = self.code_challenge
            params["code_challenge_method"] = "S256"
        if self.consent_prompted:
            params["prompt"] = "consent"
        return params


class RedirectError(Exception):
    """An error for a verified client, sent back to its redirect URI (RFC 6749 section 4.1.2.1)."""

    def __init__(self, redirect_uri: str, error: OAuthError, state: str | None, issuer: str) -> None:
        super().__init__(error.code)
        self.location = with_query(
            redirect_uri, {"error": error.code, "error_description": error.message, "state": state, "iss": issuer}
        )


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """Add parameters to a redirect URI, keeping its own query (section 3.1.2)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((name, value) for name, value in params.items() if value is not None)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def validate_authorization_request(
    conn: asyncpg.Connection, pairs: Iterable[tuple[str, str]], config: OAuthConfig
) -> AuthorizationRequest:
    try:
        params = single_valued((name, value) for name, value in pairs if name in PARAMETERS)
    except OAuthError as error:
        raise AuthorizationPageError(f"The authorization request is malformed: {error.message}") from None
    client_id = params.get("client_id")
    if client_id is None or len(client_id) > 64:
        raise AuthorizationPageError("The authorization request names no valid client_id")
    row = await db.get_client(conn, client_id)
    if row is None:
        raise AuthorizationPageError("The application asking for access is not registered here")
    client = OAuthClient.from_record(row)
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None:
        if len(client.redirect_uris) != 1:
            raise AuthorizationPageError("The authorization request has no redirect_uri")
        target = client.redirect_uris[0]
    elif redirect_uri in client.redirect_uris:
        target = redirect_uri
    else:
        raise AuthorizationPageError("The redirect_uri is not registered for this application")
    state = params.get("state")
    try:
        return _validated(client, target, redirect_uri is not None, params, state, config)
    except OAuthError as error:
        raise RedirectError(target, error, state, config.issuer) from None


def _validated(
    client: OAuthClient,
    redirect_uri: str,
    given: bool,
    params: dict[str, str],
    state: str | None,
    config: OAuthConfig,
) -> AuthorizationRequest:
    response_type = params.get("response_type")
    if response_type is None:
        raise InvalidRequest("The response_type parameter is missing")
    if response_type != "code":
        raise UnsupportedResponseType("Only response_type=code is supported")
    if not client.allows_grant("authorization_code"):
        raise UnauthorizedClient("This client is not allowed to use the authorization code grant")
    if state is None:
        raise InvalidRequest("The state parameter is required")
    if len(state) > MAX_STATE_LENGTH:
        raise InvalidRequest("The state parameter is too long")
    scopes = parse_scope(params.get("scope")) or DEFAULT_SCOPE
    if not set(scopes) <= set(client.scopes):
        raise InvalidScope("The requested scope is not allowed for this application")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise InvalidRequest("code_challenge_method without code_challenge")
        if config.requires_pkce(client.is_confidential):
            # RFC 9700 section 2.1.1: PKCE also stops code injection against confidential clients.
            raise InvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256")
    else:
        if method != "S256":
            raise InvalidRequest("Only the S256 code_challenge_method is supported")
        if not CODE_CHALLENGE.match(challenge):
            raise InvalidRequest("The code_challenge is malformed")
    prompts = set((params.get("prompt") or "").split())
    return AuthorizationRequest(client, redirect_uri, given, scopes, state, challenge, "consent" in prompts)


async def covered_by_consent(conn: asyncpg.Connection, request: AuthorizationRequest, user_id: int) -> bool:
    """Whether the user already allowed this client every requested scope, so the consent page is not shown again
    (as Hydra's and Keycloak's remembered consent); a request for more scopes, or with prompt=consent, asks."""
    if request.consent_prompted:
        return False
    granted = await db.get_consent_scopes(conn, user_id, request.client.client_id)
    return granted is not None and set(request.scopes) <= set(granted)


async def approve(
    conn: asyncpg.Connection, hasher: OAuthHasher, request: AuthorizationRequest, user_id: int, config: OAuthConfig
) -> str:
    """Record the consent and issue a code: the URL to send the user back to (section 4.1.2, RFC 9207)."""
    code = new_code()
    async with conn.transaction():
        await db.put_consent(conn, user_id, request.client.client_id, list(request.scopes))
        await record_event(
            conn,
            AppAuthorized(
                event_id=new_event_id(),
                occurred_at=now_iso(),
                client_id=request.client.client_id,
                user_id=user_id,
                scopes=list(request.scopes),
            ),
        )
        await db.insert_code(
            conn,
            hasher.code(code),
            request.client.client_id,
            user_id,
            request.redirect_uri,
            request.redirect_uri_given,
            list(request.scopes),
            request.code_challenge,
            config.code_ttl,
        )
    return with_query(request.redirect_uri, {"code": code, "state": request.state, "iss": config.issuer})


def denial(request: AuthorizationRequest, issuer: str) -> str:
    return with_query(
        request.redirect_uri,
        {
            "error": "access_denied",
            "error_description": "The user denied access",
            "state": request.state,
            "iss": issuer,
        },
    )
