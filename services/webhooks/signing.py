"""Signing secrets and Standard Webhooks signatures.

A secret is `whsec_` followed by the base64 of 32 random bytes (the Standard Webhooks form, so receivers' libraries
take it as it is). The platform must sign with it on every delivery, so it cannot be stored hashed: it is stored
encrypted with AES-GCM under a key derived by HKDF from ENCRYPTION_KEY (its own info string, so the key differs from
the auth service's), with the subscription's id as associated data, so a ciphertext copied onto another subscription
fails to decrypt. The secret is shown at creation and at rotation only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)
SECRET_BYTES = 32
NONCE_LENGTH = 12


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` (Standard Webhooks)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class SecretCipher:
    def __init__(self, key_material: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"platform webhooks: signing secret v1")
        self._aead = AESGCM(key.derive(key_material))

    def encrypt(self, secret: str, subscription_id: str) -> bytes:
        nonce = os.urandom(NONCE_LENGTH)
        return nonce + self._aead.encrypt(nonce, secret.encode(), _associated_data(subscription_id))

    def decrypt(self, blob: bytes, subscription_id: str) -> str | None:
        """The secret, or None when the ciphertext was tampered with, moved or made under another key."""
        try:
            plain = self._aead.decrypt(blob[:NONCE_LENGTH], blob[NONCE_LENGTH:], _associated_data(subscription_id))
        except (InvalidTag, ValueError):
            return None
        return plain.decode()


def _associated_data(subscription_id: str) -> bytes:
    return f"webhook_subscription:{subscription_id}".encode()
