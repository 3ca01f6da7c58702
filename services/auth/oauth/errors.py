"""OAuth 2.0 protocol errors, rendered as RFC 6749 section 5.2 bodies: {"error": ..., "error_description": ...}.

They subclass ApiError so the service's error middleware renders them, with their own body shape and the
no-store headers the RFC asks of every token-endpoint answer (section 5.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.errors import ApiError

NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(ApiError):
    status = 400
    code = "invalid_request"

    def __init__(self, description: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(description, headers={**NO_STORE_HEADERS, **(headers or {})})

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.message}


class InvalidRequest(OAuthError):
    code = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 section 5.2: 401, with WWW-Authenticate naming the scheme the client used (Basic)."""

    status = 401
    code = "invalid_client"

    def __init__(self, description: str = "Client authentication failed") -> None:
        super().__init__(description, headers={"WWW-Authenticate": 'Basic realm="oauth", charset="UTF-8"'})


class ClientThrottled(OAuthError):
    """Too many failed client authentications from this client id and address: 429 with Retry-After. The error
    code is RFC 6749's "temporarily_unavailable", the nearest registered one."""

    status = 429
    code = "temporarily_unavailable"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed client authentications; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class InvalidGrant(OAuthError):
    code = "invalid_grant"


class UnauthorizedClient(OAuthError):
    code = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"


class InvalidScope(OAuthError):
    code = "invalid_scope"


class UnsupportedTokenType(OAuthError):
    """RFC 7009 section 2.2.1."""

    code = "unsupported_token_type"


class AccessDenied(OAuthError):
    code = "access_denied"


class UnsupportedResponseType(OAuthError):
    code = "unsupported_response_type"


class AuthorizationPageError(ApiError):
    """An authorization request that must not be redirected anywhere (unknown client, unregistered redirect URI):
    shown to the user as an error page (RFC 6749 section 4.1.2.1)."""

    status = 400
    code = "invalid_authorization_request"
