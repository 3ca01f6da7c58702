"""Token-endpoint style requests as plain data: form parameters (each at most once) and the client's credentials."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from services.auth.oauth.errors import InvalidClient, InvalidRequest

MAX_PARAMETER_LENGTH = 4096
MAX_PARAMETERS = 20


@dataclass(frozen=True)
class ClientCredentials:
    """What the client presented: RFC 6749 section 2.3.1 (Basic or form) or only its id (public clients)."""

    client_id: str
    client_secret: str | None
    method: str  # client_secret_basic | client_secret_post | none

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r}, method={self.method!r})"


@dataclass(frozen=True)
class TokenRequest:
    params: dict[str, str]
    credentials: ClientCredentials

    def __repr__(self) -> str:
        return f"TokenRequest(params={sorted(self.params)!r}, credentials={self.credentials!r})"

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if not value:
            raise InvalidRequest(f"The {name} parameter is missing")
        return value


def single_valued(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """RFC 6749 section 3.1 and 3.2: parameters sent without a value are treated as omitted, and request and response
    parameters must not be included more than once."""
    params: dict[str, str] = {}
    count = 0
    for name, value in pairs:
        count += 1
        if count > MAX_PARAMETERS:
            raise InvalidRequest("Too many parameters")
        if len(value) > MAX_PARAMETER_LENGTH or len(name) > 100:
            raise InvalidRequest("A parameter is too long")
        if name in params:
            raise InvalidRequest(f"The {name} parameter is repeated")
        if value != "":
            params[name] = value
    return params


def _basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise InvalidClient("Unsupported client authentication scheme; use Basic or the form parameters")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("Malformed Basic credentials") from None
    if ":" not in decoded:
        raise InvalidClient("Malformed Basic credentials")
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 section 2.3.1: both are application/x-www-form-urlencoded before base64.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def parse_token_request(pairs: Iterable[tuple[str, str]], authorization: str | None) -> TokenRequest:
    params = single_valued(pairs)
    if authorization:
        if "client_secret" in params:
            raise InvalidRequest("Use one client authentication method, not both (RFC 6749 section 2.3)")
        client_id, secret = _basic_credentials(authorization)
        if not client_id or not secret:
            raise InvalidClient()
        if "client_id" in params and params["client_id"] != client_id:
            raise InvalidRequest("client_id does not match the Basic credentials")
        credentials = ClientCredentials(client_id, secret, "client_secret_basic")
    elif "client_id" in params:
        secret = params.get("client_secret")
        credentials = ClientCredentials(params["client_id"], secret, "client_secret_post" if secret else "none")
    else:
        raise InvalidClient("The client did not authenticate")
    return TokenRequest(params, credentials)
