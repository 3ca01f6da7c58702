"""Split-knowledge, authenticated encryption of client secrets, and the keyed hashes."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from services.auth.oauth.client_secrets import (
    ClientSecretCipher,
    OAuthHasher,
    PrivateKeyCipher,
    new_client_secret,
    new_developer_key,
)

SERVER = b"s" * 40


def test_secret_decrypts_with_both_halves_of_the_key() -> None:
    secret, developer_key = new_client_secret(), new_developer_key()
    blob = ClientSecretCipher(SERVER).encrypt(secret, developer_key, "cid_a")
    assert ClientSecretCipher(SERVER).decrypt(blob, developer_key, "cid_a") == secret


def test_database_half_alone_cannot_decrypt() -> None:
    secret, developer_key = new_client_secret(), new_developer_key()
    blob = ClientSecretCipher(SERVER).encrypt(secret, developer_key, "cid_a")
    assert ClientSecretCipher(b"another server setting of 40 bytes......").decrypt(blob, developer_key, "cid_a") is None


def test_server_half_alone_cannot_decrypt() -> None:
    secret = new_client_secret()
    blob = ClientSecretCipher(SERVER).encrypt(secret, new_developer_key(), "cid_a")
    assert ClientSecretCipher(SERVER).decrypt(blob, new_developer_key(), "cid_a") is None


def test_tampered_ciphertext_is_rejected_not_decrypted_to_something_else() -> None:
    developer_key = new_developer_key()
    blob = bytearray(ClientSecretCipher(SERVER).encrypt(new_client_secret(), developer_key, "cid_a"))
    blob[20] ^= 0x01
    assert ClientSecretCipher(SERVER).decrypt(bytes(blob), developer_key, "cid_a") is None


def test_ciphertext_moved_to_another_client_is_rejected() -> None:
    developer_key = new_developer_key()
    blob = ClientSecretCipher(SERVER).encrypt(new_client_secret(), developer_key, "cid_a")
    assert ClientSecretCipher(SERVER).decrypt(blob, developer_key, "cid_b") is None


def test_each_encryption_uses_a_fresh_nonce() -> None:
    secret, developer_key = new_client_secret(), new_developer_key()
    cipher = ClientSecretCipher(SERVER)
    assert cipher.encrypt(secret, developer_key, "cid_a") != cipher.encrypt(secret, developer_key, "cid_a")


def test_hashes_are_keyed_and_separated_by_kind() -> None:
    hasher = OAuthHasher(b"p" * 40)
    assert hasher.code("value") != hasher.refresh_token("value") != hasher.client_secret("value")
    assert OAuthHasher(b"q" * 40).code("value") != hasher.code("value")
    assert hasher.code("value") == OAuthHasher(b"p" * 40).code("value")


def test_private_key_ciphertext_is_bound_to_its_kid() -> None:
    cipher = PrivateKeyCipher(SERVER)
    blob = cipher.encrypt(b"-----BEGIN PRIVATE KEY-----", "kid-1")
    assert cipher.decrypt(blob, "kid-1") == b"-----BEGIN PRIVATE KEY-----"
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, "kid-2")
