"""Passwords: Argon2id (memory-hard) via argon2-cffi, with bounded input."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.errors import BadRequest

MIN_PASSWORD_LENGTH = 12
# Bounded so a megabyte "password" cannot make the hash a denial of service.
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()


def validate_password(password: object, target: str = "password") -> str:
    if not isinstance(password, str):
        raise BadRequest("The password must be a string", target=target)
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise BadRequest(
            f"The password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long", target=target
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if stored_hash is None:
        # Same work as a real check, so "no password set" cannot be told apart by timing.
        stored_hash = _DUMMY_HASH
        password = password + "\x00"
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash("dummy password never matches")
