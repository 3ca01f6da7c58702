"""How api.php codes and access tokens are made and hashed.

A token looks like Webasyst's ("b936356100e3883cabf59abed991d03d", 32 hex digits: 128 random bits); a code
the same. Both are stored only as HMAC-SHA256 under their own sub-keys of SECRET_PEPPER (the auth service's pepper),
so a copy of the database alone is no credential, and a code's hash never matches a token's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from services.auth.crypto import derive_key

SECRET_HEX_LENGTH = 32
_SECRET = re.compile(r"^[0-9a-f]{32}$")


def new_secret() -> str:
    return secrets.token_hex(SECRET_HEX_LENGTH // 2)


def is_well_formed(value: str) -> bool:
    """A mistyped token or code is refused without a database look-up."""
    return bool(_SECRET.match(value))


class ApiPhpHasher:
    def __init__(self, pepper: bytes) -> None:
        self._code = derive_key(pepper, b"platform auth: api.php code lookup v1")
        self._token = derive_key(pepper, b"platform auth: api.php token lookup v1")

    def code(self, code: str) -> bytes:
        return hmac.new(self._code, code.encode(), hashlib.sha256).digest()

    def token(self, token: str) -> bytes:
        return hmac.new(self._token, token.encode(), hashlib.sha256).digest()
