"""Keyed hashes for look-up and authenticated encryption for display.

Why an API token is stored twice (the Users area shows the current token to an admin in an input box):
- the keyed hash (HMAC-SHA256 under SECRET_PEPPER) is what verification compares against, in constant time, on
  every request; it never needs the encryption key, and a stolen database alone yields nothing usable;
- the AES-GCM ciphertext (key derived with HKDF from ENCRYPTION_KEY) exists only so the panel can display the
  token; it is decrypted solely on that admin request. GCM authenticates the ciphertext, and the associated data
  binds it to its user, so a row copied onto another user fails to decrypt instead of showing a wrong token.
API keys are shown once, so they are only ever hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_LENGTH = 12


def derive_key(material: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    """A 256-bit sub-key of `material` for one purpose (`info`), by HKDF-SHA256 (RFC 5869): each purpose gets a key
    of its own, and knowing one sub-key tells nothing of another nor of the material."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)


class CredentialHasher:
    """HMAC-SHA256 under sub-keys of the pepper, one per credential kind (a key's hash never matches a token's)."""

    def __init__(self, pepper: bytes) -> None:
        self._api_key = derive_key(pepper, b"platform auth: api key lookup v1")
        self._api_token = derive_key(pepper, b"platform auth: api token lookup v1")

    def api_key(self, key: str) -> bytes:
        return hmac.new(self._api_key, key.encode(), hashlib.sha256).digest()

    def api_token(self, token: str) -> bytes:
        return hmac.new(self._api_token, token.encode(), hashlib.sha256).digest()


class TokenCipher:
    def __init__(self, key_material: bytes) -> None:
        self._aead = AESGCM(derive_key(key_material, b"platform auth: api token display v1"))

    def encrypt(self, token: str, user_id: int) -> bytes:
        nonce = os.urandom(NONCE_LENGTH)
        return nonce + self._aead.encrypt(nonce, token.encode(), _associated_data(user_id))

    def decrypt(self, blob: bytes, user_id: int) -> str | None:
        """The token, or None when the ciphertext was tampered with, moved or made under another key."""
        try:
            return self._aead.decrypt(blob[:NONCE_LENGTH], blob[NONCE_LENGTH:], _associated_data(user_id)).decode()
        except (InvalidTag, ValueError):
            return None


def _associated_data(user_id: int) -> bytes:
    return f"api_token:{user_id}".encode()
