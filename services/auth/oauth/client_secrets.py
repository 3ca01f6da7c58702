"""Client secrets, codes, refresh tokens and session ids: how they are made, hashed and (client secrets) encrypted.

Every bearer value is stored as a keyed hash (HMAC-SHA256 under a sub-key of SECRET_PEPPER, one per kind), so a copy
of the database alone is no credential, and look-ups compare in constant time.

The client secret is also stored encrypted, because developers "copy your Client ID and Client Secret
from the application settings" at any time. The encryption key is split knowledge: HKDF over the server's
ENCRYPTION_KEY together with a random 256-bit key of the owning developer kept in the database
(auth.oauth_developers). The database alone lacks the server half; the server configuration alone lacks the
per-user half; both are needed to read a secret.

Why AES-256-GCM and not AES-256-CBC (docs/oauth.md): CBC only hides the plaintext. It does not detect tampering, so a
ciphertext can be altered (bit flips in the previous block change the decrypted secret predictably) and padding
errors give padding-oracle attacks. GCM is authenticated encryption: any change to the ciphertext, or a ciphertext
copied onto another client (the client id is bound as associated data), fails to decrypt instead of yielding a
wrong secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.auth.crypto import derive_key

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CLIENT_ID_PREFIX = "cid_"
CLIENT_SECRET_PREFIX = "ocs_"  # noqa: S105 (a prefix, not a secret)
REFRESH_TOKEN_PREFIX = "ort_"  # noqa: S105 (a prefix, not a secret)
NONCE_LENGTH = 12
DEVELOPER_KEY_LENGTH = 32
MAX_SECRET_LENGTH = 256


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + _random_base62(22)  # 131 bits: an identifier, not a secret, but never guessable


def new_client_secret() -> str:
    return CLIENT_SECRET_PREFIX + _random_base62(43)  # 256 bits


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + _random_base62(43)


def new_code() -> str:
    return secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_developer_key() -> bytes:
    return os.urandom(DEVELOPER_KEY_LENGTH)


class OAuthHasher:
    """Keyed hashes, one sub-key per kind, so a code's hash never matches a refresh token's."""

    def __init__(self, pepper: bytes) -> None:
        self._keys = {
            kind: derive_key(pepper, f"platform oauth: {kind} lookup v1".encode())
            for kind in ("client_secret", "code", "refresh_token", "session")
        }

    def _mac(self, kind: str, value: str) -> bytes:
        return hmac.new(self._keys[kind], value.encode(), hashlib.sha256).digest()

    def client_secret(self, secret: str) -> bytes:
        return self._mac("client_secret", secret)

    def code(self, code: str) -> bytes:
        return self._mac("code", code)

    def refresh_token(self, token: str) -> bytes:
        return self._mac("refresh_token", token)

    def session(self, session_id: str) -> bytes:
        return self._mac("session", session_id)


class ClientSecretCipher:
    """AES-256-GCM under HKDF(server half, salt = per-developer half), the client id as associated data."""

    def __init__(self, server_material: bytes) -> None:
        self._server_half = derive_key(server_material, b"platform oauth: client secret server half v1")

    def _aead(self, developer_key: bytes) -> AESGCM:
        if len(developer_key) != DEVELOPER_KEY_LENGTH:
            raise ValueError("a developer key is 32 bytes")
        return AESGCM(derive_key(self._server_half, b"platform oauth: client secret v1", salt=developer_key))

    def encrypt(self, secret: str, developer_key: bytes, client_id: str) -> bytes:
        nonce = os.urandom(NONCE_LENGTH)
        return nonce + self._aead(developer_key).encrypt(nonce, secret.encode(), client_id.encode())

    def decrypt(self, blob: bytes, developer_key: bytes, client_id: str) -> str | None:
        """The secret, or None when the ciphertext was altered, moved to another client or made under other keys."""
        try:
            plain = self._aead(developer_key).decrypt(blob[:NONCE_LENGTH], blob[NONCE_LENGTH:], client_id.encode())
        except (InvalidTag, ValueError):
            return None
        return plain.decode()


class PrivateKeyCipher:
    """AES-256-GCM for the PEM of a signing key, the kid as associated data."""

    def __init__(self, server_material: bytes) -> None:
        self._aead = AESGCM(derive_key(server_material, b"platform oauth: signing key v1"))

    def encrypt(self, pem: bytes, kid: str) -> bytes:
        nonce = os.urandom(NONCE_LENGTH)
        return nonce + self._aead.encrypt(nonce, pem, kid.encode())

    def decrypt(self, blob: bytes, kid: str) -> bytes:
        return self._aead.decrypt(blob[:NONCE_LENGTH], blob[NONCE_LENGTH:], kid.encode())
