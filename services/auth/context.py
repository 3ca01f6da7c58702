"""What the domain operations need, bundled once for the web app and the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.auth.crypto import CredentialHasher, TokenCipher
from services.auth.events import RevocationPublisher
from services.auth.permissions import ALL_PERMISSIONS
from shared.principal import Principal


@dataclass(frozen=True)
class AuthContext:
    pool: asyncpg.Pool
    hasher: CredentialHasher
    cipher: TokenCipher
    publisher: RevocationPublisher


def operator_principal() -> Principal:
    """The identity of an operator at the command line: full rights, recorded as such in the audit log."""
    return Principal(
        user_id=None,
        username="cli:operator",
        is_admin=True,
        permissions=ALL_PERMISSIONS,
        credential_kind="service",
        credential_id="cli",
    )
