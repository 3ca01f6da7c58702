"""Reading the client's credential from a request's headers and query: X-API-Key, Authorization Basic or Bearer
(api.php's token in a form body is services/gateway/apiphp.py's).

Failures are 401 with the challenge the client expects (RFC 7617 Basic, RFC 6750 Bearer); two different
credentials in one request are a 400, because guessing which one the client meant could grant the wrong rights.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from multidict import CIMultiDictProxy

from services.gateway.challenges import BASIC_CHALLENGE, bearer_challenge
from services.gateway.jwt_verifier import looks_like_jwt
from shared.errors import BadRequest, Forbidden, InvalidCredential, Unauthorized
from shared.verification import VerifyRequest

if TYPE_CHECKING:
    # Only annotated here: the route table builds its api.php rules from services/gateway/apiphp.py, which reads
    # its credential through this module.
    from services.gateway.routes import CredentialRule

MAX_CREDENTIAL_LENGTH = 1024
# A JWT access token carries its rights (RFC 9068 plus `permissions`): an admin's read-write token passes 1 KiB.
MAX_JWT_LENGTH = 8192
MAX_USERNAME_LENGTH = 256
# RFC 6750 section 2.1: b64token syntax.
_BEARER_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


class MissingCredential(Unauthorized):
    code = "missing_credential"


class InsufficientPermission(Forbidden):
    code = "insufficient_permission"


class AmbiguousCredentials(BadRequest):
    code = "ambiguous_credentials"


@dataclass(frozen=True)
class Credential:
    """A credential as the client sent it; the secret never appears in repr()."""

    kind: str  # api_key | basic | bearer
    secret: str
    username: str | None = None

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind!r}, username={self.username!r})"

    @property
    def is_bearer(self) -> bool:
        return self.kind == "bearer"

    def cache_key(self, salt: bytes) -> bytes:
        """A keyed digest standing for the credential, so cache keys never hold a secret."""
        material = "\x00".join((self.kind, self.username or "", self.secret)).encode()
        return hmac.new(salt, material, hashlib.sha256).digest()

    def verify_request(self, client_ip: str | None) -> VerifyRequest:
        """What POST /internal/verify is asked for this credential."""
        return VerifyRequest(self.kind, self.secret, self.username, client_ip)

    def invalid(self, message: str = InvalidCredential.DEFAULT_MESSAGE) -> InvalidCredential:
        return InvalidCredential(message, headers={"WWW-Authenticate": self.challenge("invalid_token", message)})

    def challenge(self, error: str | None = None, description: str | None = None) -> str:
        return bearer_challenge(error, description) if self.is_bearer else BASIC_CHALLENGE

    def forbidden(self, resource: str, action: str) -> InsufficientPermission:
        message = f"This credential lacks the permission {resource}:{action}"
        if self.is_bearer:
            challenge = bearer_challenge("insufficient_scope", message, f"{resource}:{action}")
            return InsufficientPermission(message, headers={"WWW-Authenticate": challenge})
        return InsufficientPermission(message)


def _malformed_basic(message: str) -> InvalidCredential:
    return InvalidCredential(message, headers={"WWW-Authenticate": BASIC_CHALLENGE})


def _malformed_bearer(message: str) -> InvalidCredential:
    return InvalidCredential(message, headers={"WWW-Authenticate": bearer_challenge("invalid_request", message)})


def parse_basic(value: str) -> Credential:
    """RFC 7617: base64(username ":" token), UTF-8."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _malformed_basic("The Basic credentials are not valid base64") from None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed_basic("The Basic credentials are not valid UTF-8") from None
    username, colon, token = text.partition(":")
    if not colon:
        raise _malformed_basic("The Basic credentials must be username:token")
    if not username or not token:
        raise _malformed_basic("The Basic credentials need both a username and a token")
    if len(username) > MAX_USERNAME_LENGTH or any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise _malformed_basic("The Basic credentials are malformed")
    return Credential("basic", token, username)


def parse_authorization(value: str) -> Credential:
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        return parse_basic(rest)
    if scheme == "bearer":
        token = rest.strip()
        if not token or not _BEARER_TOKEN.match(token):
            raise _malformed_bearer("The Bearer token is malformed")
        return Credential("bearer", token)
    raise InvalidCredential(
        "Unsupported Authorization scheme; use Basic, Bearer or the X-API-Key header",
        headers={"WWW-Authenticate": BASIC_CHALLENGE},
    )


def _single(headers: CIMultiDictProxy[str], name: str) -> str | None:
    values = headers.getall(name, [])
    if len(values) > 1:
        raise AmbiguousCredentials(f"Send the {name} header once")
    return values[0] if values else None


def _sent_credentials(
    headers: CIMultiDictProxy[str], query: Mapping[str, str], rule: CredentialRule, form_token: str | None
) -> list[tuple[str, str]]:
    """Every place the rule allows that holds a credential: (where, value)."""
    found: list[tuple[str, str]] = []
    if rule.headers:
        for name in ("X-API-Key", "Authorization"):
            value = _single(headers, name)
            if value is not None:
                found.append((name, value))
    if rule.query_parameter and rule.query_parameter in query:
        found.append((rule.query_parameter, query[rule.query_parameter]))
    if rule.form_field and form_token is not None:
        found.append((f"{rule.form_field} form field", form_token))
    return found


def _parse_credential(name: str, value: str) -> Credential:
    if name == "X-API-Key":
        key = value.strip()
        if not key or not _PRINTABLE.match(key):
            raise _malformed_basic("The X-API-Key header is malformed")
        return Credential("api_key", key)
    if name == "Authorization":
        return parse_authorization(value)
    if not _BEARER_TOKEN.match(value):
        raise _malformed_bearer("The access token is malformed")
    return Credential("bearer", value)


def read_credential(
    headers: CIMultiDictProxy[str], query: Mapping[str, str], rule: CredentialRule, form_token: str | None = None
) -> Credential:
    """The one credential of a request, or MissingCredential / InvalidCredential / AmbiguousCredentials.
    form_token: the rule's form field, as read_form_credential found it."""
    found = _sent_credentials(headers, query, rule, form_token)
    if len(found) > 1:
        names = " and ".join(name for name, _ in found)
        raise AmbiguousCredentials(f"The request carries two credentials ({names}); send exactly one")
    if not found:
        raise MissingCredential(
            "This API needs a credential: X-API-Key, Authorization: Basic or Authorization: Bearer",
            headers={"WWW-Authenticate": BASIC_CHALLENGE},
        )
    name, value = found[0]
    _check_length(value, MAX_JWT_LENGTH)
    credential = _parse_credential(name, value)
    if not (credential.is_bearer and looks_like_jwt(credential.secret)):
        _check_length(value, MAX_CREDENTIAL_LENGTH)
    return credential


def _check_length(value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidCredential(
            f"The credential is longer than {limit} characters", headers={"WWW-Authenticate": BASIC_CHALLENGE}
        )
