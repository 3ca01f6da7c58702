"""Typed application state of the OAuth server."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from services.auth.oauth.client_secrets import ClientSecretCipher, OAuthHasher
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.server import AuthorizationServer
from services.auth.oauth.sessions import SessionStore
from services.auth.oauth.signing import KeyRing
from services.auth.oauth.tokens import TokenService
from services.auth.throttle import FailedAttemptThrottle


@dataclass(frozen=True)
class OAuthServices:
    config: OAuthConfig
    hasher: OAuthHasher
    secret_cipher: ClientSecretCipher
    keyring: KeyRing
    tokens: TokenService
    server: AuthorizationServer
    sessions: SessionStore
    login_throttle: FailedAttemptThrottle
    client_throttle: FailedAttemptThrottle
    principal_key: bytes
    principal_audience: str


OAUTH = web.AppKey("oauth", OAuthServices)
