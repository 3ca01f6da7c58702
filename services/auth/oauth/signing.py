"""Signing keys of the JWT access tokens: made, stored encrypted, rotated, published (JWKS) and used.

One key signs at a time (a unique partial index enforces it). Rotation retires it: a retired key signs nothing more
but stays published until every token it signed has expired (retired_at + the access-token lifetime).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.auth.oauth import db
from services.auth.oauth.client_secrets import PrivateKeyCipher

log = logging.getLogger(__name__)

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 section 2.1 media type)
_KEY_LOCK = 0x6F61757468_6B6579  # advisory lock: only one replica creates the first key


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: Any

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


def generate_key(algorithm: str) -> tuple[str, bytes, dict[str, Any]]:
    """A new key pair: its kid, the private key as PEM, and the public key as a JWK (RFC 7517)."""
    if algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm}")
    kid = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(6)}"
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return kid, pem, {**jwk, "kid": kid, "use": "sig", "alg": algorithm}


async def insert_new_key(conn: asyncpg.Connection, cipher: PrivateKeyCipher, algorithm: str) -> str:
    kid, pem, jwk = generate_key(algorithm)
    await db.insert_signing_key(conn, kid, algorithm, cipher.encrypt(pem, kid), jwk)
    return kid


async def ensure_signing_key(pool: asyncpg.Pool, cipher: PrivateKeyCipher, algorithm: str) -> None:
    """Create the first signing key when there is none (several replicas may start at once)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _KEY_LOCK)
        if await db.get_active_signing_key(conn) is None:
            kid = await insert_new_key(conn, cipher, algorithm)
            log.info("created signing key %s", kid)


async def rotate_signing_key(pool: asyncpg.Pool, cipher: PrivateKeyCipher, algorithm: str) -> str:
    """Retire the signing key and make a new one; the old one stays in the JWKS until its tokens expire."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _KEY_LOCK)
        await db.retire_signing_keys(conn)
        return await insert_new_key(conn, cipher, algorithm)


class KeyRing:
    """The keys a running server signs with and publishes, re-read from the database every few seconds."""

    def __init__(self, cipher: PrivateKeyCipher, access_token_ttl: int, reload_seconds: int) -> None:
        self._cipher = cipher
        self._access_token_ttl = access_token_ttl
        self._reload_seconds = reload_seconds
        self._active: SigningKey | None = None
        self._public: dict[str, jwt.PyJWK] = {}
        self._jwks: dict[str, Any] = {"keys": []}
        self._loaded_at = 0.0

    async def load(self, pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            active = await db.get_active_signing_key(conn)
            published = await db.list_published_signing_keys(conn, self._access_token_ttl)
        if active is None:
            raise RuntimeError("there is no active signing key")
        if self._active is None or self._active.kid != active["kid"]:
            pem = self._cipher.decrypt(bytes(active["private_key_encrypted"]), active["kid"])
            private = serialization.load_pem_private_key(pem, password=None)
            self._active = SigningKey(active["kid"], active["algorithm"], private)
        jwks = [json.loads(row["public_jwk"]) for row in published]
        self._public = {jwk["kid"]: jwt.PyJWK(jwk) for jwk in jwks}
        self._jwks = {"keys": jwks}
        self._loaded_at = time.monotonic()

    async def refresh_if_stale(self, pool: asyncpg.Pool) -> None:
        if time.monotonic() - self._loaded_at >= self._reload_seconds:
            await self.load(pool)

    @property
    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def sign(self, claims: dict[str, Any]) -> str:
        if self._active is None:
            raise RuntimeError("the key ring is not loaded")
        return jwt.encode(
            claims,
            self._active.private_key,
            algorithm=self._active.algorithm,
            headers={"kid": self._active.kid, "typ": ACCESS_TOKEN_TYPE},
        )

    def decode(self, token: str, issuer: str, audience: str, *, verify_exp: bool = True) -> dict[str, Any] | None:
        """The claims of a token this server signed, or None when it is not one (or expired, when checked)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        key = self._public.get(str(header.get("kid")))
        if key is None or header.get("typ") != ACCESS_TOKEN_TYPE:
            return None
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                issuer=issuer,
                audience=audience,
                options={"verify_exp": verify_exp, "require": ["exp", "iat", "jti", "client_id"]},
            )
        except jwt.PyJWTError:
            return None
