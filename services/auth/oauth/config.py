"""Settings of the OAuth 2.0 authorization server, read from the environment.

OAUTH_ISSUER              the issuer identifier (iss claim, metadata), the public base URL of the gateway
                          (default: http://127.0.0.1:8080)
OAUTH_AUDIENCE            the aud claim of access tokens, the API they are for (default: the issuer)
OAUTH_ACCESS_TOKEN_TTL    access-token lifetime in seconds (default: 2592000, 30 days, as docs/oauth.md says)
OAUTH_REFRESH_TOKEN_TTL   refresh-token lifetime in seconds; each rotation starts a new one (default: 7776000, 90 days)
OAUTH_REFRESH_FAMILY_TTL  absolute lifetime in seconds of a token family (the refresh tokens rotated from one
                          authorization, and their access tokens): rotation never extends it; then the user authorizes
                          again (default: 31536000, 365 days)
OAUTH_CODE_TTL            authorization-code lifetime in seconds (default: 180, api.php's three minutes; at most 600,
                          RFC 6749 section 4.1.2)
OAUTH_SESSION_TTL         lifetime of a sign-in session of the login and consent pages, in seconds (default: 3600)
OAUTH_COOKIE_SECURE       auto, true or false: mark the session cookie Secure; auto does so when the request came over
                          https (directly or as said by the gateway's X-Forwarded-Proto) (default: auto)
OAUTH_SIGNING_ALGORITHM   ES256 or RS256, the algorithm of new signing keys (default: ES256)
OAUTH_KEY_RELOAD_SECONDS  how often a running server re-reads the signing keys, so a rotation by command is picked up
                          (default: 30)
OAUTH_PKCE_REQUIRED       all or public: which clients must send a PKCE S256 code_challenge (RFC 9700 section 2.1.1);
                          public lets confidential clients, which authenticate at the token endpoint, leave it out
                          (default: all)
The client secrets and signing keys are encrypted with keys derived from ENCRYPTION_KEY, and hashed under SECRET_PEPPER
(both read by services/auth/config.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import ConfigError, read_int, read_str, read_url

DAY = 86_400
SIGNING_ALGORITHMS = ("ES256", "RS256")
COOKIE_SECURE_MODES = ("auto", "true", "false")
PKCE_MODES = ("all", "public")


@dataclass(frozen=True)
class OAuthConfig:
    issuer: str
    audience: str
    access_token_ttl: int
    refresh_token_ttl: int
    refresh_family_ttl: int
    code_ttl: int
    session_ttl: int
    cookie_secure: str
    signing_algorithm: str
    key_reload_seconds: int
    pkce_required: str = "all"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OAuthConfig:
        issuer = read_url(environ, "OAUTH_ISSUER", ("http", "https"), "http://127.0.0.1:8080")
        cookie_secure = read_str(environ, "OAUTH_COOKIE_SECURE", "auto").lower()
        if cookie_secure not in COOKIE_SECURE_MODES:
            raise ConfigError("OAUTH_COOKIE_SECURE must be auto, true or false")
        algorithm = read_str(environ, "OAUTH_SIGNING_ALGORITHM", "ES256").upper()
        if algorithm not in SIGNING_ALGORITHMS:
            raise ConfigError("OAUTH_SIGNING_ALGORITHM must be ES256 or RS256")
        pkce_required = read_str(environ, "OAUTH_PKCE_REQUIRED", "all").lower()
        if pkce_required not in PKCE_MODES:
            raise ConfigError("OAUTH_PKCE_REQUIRED must be all or public")
        return cls(
            issuer=issuer,
            audience=read_str(environ, "OAUTH_AUDIENCE", issuer),
            access_token_ttl=read_int(environ, "OAUTH_ACCESS_TOKEN_TTL", 30 * DAY, 60, 365 * DAY),
            refresh_token_ttl=read_int(environ, "OAUTH_REFRESH_TOKEN_TTL", 90 * DAY, 60, 3650 * DAY),
            refresh_family_ttl=read_int(environ, "OAUTH_REFRESH_FAMILY_TTL", 365 * DAY, 60, 3650 * DAY),
            code_ttl=read_int(environ, "OAUTH_CODE_TTL", 180, 10, 600),
            session_ttl=read_int(environ, "OAUTH_SESSION_TTL", 3600, 60, 30 * DAY),
            cookie_secure=cookie_secure,
            signing_algorithm=algorithm,
            key_reload_seconds=read_int(environ, "OAUTH_KEY_RELOAD_SECONDS", 30, 1, 3600),
            pkce_required=pkce_required,
        )

    def requires_pkce(self, is_confidential: bool) -> bool:
        return self.pkce_required == "all" or not is_confidential

    @property
    def endpoints(self) -> dict[str, str]:
        return {
            "authorization_endpoint": f"{self.issuer}/auth/oauth/authorize",
            "token_endpoint": f"{self.issuer}/auth/oauth/token",
            "revocation_endpoint": f"{self.issuer}/auth/oauth/revoke",
            "introspection_endpoint": f"{self.issuer}/auth/oauth/introspect",
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
        }
