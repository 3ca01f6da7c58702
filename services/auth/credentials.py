"""The shapes of the secrets this service issues: API keys and per-user API tokens (docs/api-keys-and-basic.md).

An API key reads `cap_<43 base62 random chars><6 base62 checksum chars>`:
- the `cap_` prefix lets people and secret scanners recognise a leaked key;
- 43 base62 characters carry log2(62) * 43 = 256.03 bits from the OS CSPRNG;
- the checksum (CRC32 of prefix and body, base62) rejects a mistyped or truncated key without a database look-up.
An API token reads `cpt_<43 base62 random chars>`: it always travels with a username, so it needs no checksum.
"""

from __future__ import annotations

import binascii
import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
API_KEY_PREFIX = "cap_"
API_TOKEN_PREFIX = "cpt_"  # noqa: S105 (a public prefix, not a secret)
RANDOM_LENGTH = 43
CHECKSUM_LENGTH = 6
API_KEY_LENGTH = len(API_KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
API_TOKEN_LENGTH = len(API_TOKEN_PREFIX) + RANDOM_LENGTH
# How much of a key listings show: the prefix and a few random characters, enough to tell keys apart.
DISPLAY_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8
_BASE62_SET = frozenset(BASE62)


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


def _checksum(text: str) -> str:
    return _base62(binascii.crc32(text.encode()), CHECKSUM_LENGTH)


def generate_api_key() -> str:
    body = API_KEY_PREFIX + _random_base62(RANDOM_LENGTH)
    return body + _checksum(body)


def is_well_formed_api_key(key: str) -> bool:
    """Prefix, length, alphabet and checksum; a False here needs no database look-up."""
    if len(key) != API_KEY_LENGTH or not key.startswith(API_KEY_PREFIX):
        return False
    rest = key[len(API_KEY_PREFIX) :]
    if not _BASE62_SET.issuperset(rest):
        return False
    body, checksum = key[:-CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
    return secrets.compare_digest(checksum, _checksum(body))


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def generate_api_token() -> str:
    return API_TOKEN_PREFIX + _random_base62(RANDOM_LENGTH)
