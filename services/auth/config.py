"""Settings of the auth service, read from the environment.

DATABASE_URL         PostgreSQL URL (required), e.g. postgresql://postgres@127.0.0.1:5432/platform
AMQP_URL             RabbitMQ URL (required), e.g. amqp://guest:guest@127.0.0.1:5672/
BUS_PREFIX           prefix of every exchange and queue name (default: platform)
LISTEN_HOST          address to listen on (default: 127.0.0.1)
LISTEN_PORT          port to listen on (default: 8081)
LOG_LEVEL            DEBUG, INFO, WARNING or ERROR (default: INFO)
INTERNAL_SIGNING_KEY key that signs the internal principal, shared by all services (required, >= 32 chars)
SHUTDOWN_TIMEOUT     seconds allowed for in-flight requests and clean-up on SIGTERM (default: 10)
STARTUP_TIMEOUT      seconds to wait for PostgreSQL and RabbitMQ at start-up (default: 30)
SECRET_PEPPER        server pepper for the keyed hashes of API keys and tokens (required, >= 32 chars);
                     changing it invalidates every key and token
ENCRYPTION_KEY       key material for the AES-GCM copy of API tokens shown to admins (required, >= 32 chars;
                     the AES key is derived from it with HKDF); changing it makes stored tokens undisplayable
VERIFY_CACHE_TTL     seconds the gateway may cache a verified principal, never past the credential's expiry
                     (default: 60)
REDIS_URL            Redis that every replica counts failed logins and credentials in, so the throttles hold
                     across replicas (default: unset, each replica counts in its own memory; so it does while
                     Redis is down)
APIPHP_TOKEN_TTL     lifetime of api.php access tokens in seconds (default: 0, never expire, as Webasyst's)
WEBHOOKS_URL         base URL of the webhooks service, whose API the control panel's Webhooks pages call
                     (default: http://127.0.0.1:8084)
DEVELOPER_SIGNUP     approval or open: whether a user's "Create a Developer Account" waits for an admin's approval
                     on the control panel, or grants the developer permissions at once (default: approval)
API_BASE_URL         the gateway's public URL, handed to plugins as API_BASE_URL (default: OAUTH_ISSUER)
GATEWAY_URL          base URL of the gateway, whose /readyz the dashboard reads (default: http://127.0.0.1:8080)
GATEWAY_METRICS_URL  base URL of the gateway's metrics listener (its METRICS_HOST:METRICS_PORT), whose /metrics
                     the dashboard reads for the request rates (default: http://127.0.0.1:9080)
ODATA_URL            base URL of the odata service, whose /readyz the dashboard reads (default: http://127.0.0.1:8082)
IMPORTER_URL         base URL of the importer service, which the control panel's Imports and Mappers pages call
                     with the signed-in user's principal, and whose /readyz and the user's recent imports the
                     dashboard reads (default: http://127.0.0.1:8083)

OAuth 2.0 settings (OAUTH_ISSUER, OAUTH_AUDIENCE, OAUTH_ACCESS_TOKEN_TTL, ...) are listed in
services/auth/oauth/config.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.auth.oauth.config import OAuthConfig
from shared.config import (
    CommonConfig,
    ConfigError,
    Secret,
    read_database_url,
    read_float,
    read_int,
    read_redis_url,
    read_secret,
    read_url,
)

DEFAULT_PORT = 8081
DEFAULT_IMPORTER_URL = "http://127.0.0.1:8083"
DEVELOPER_SIGNUP_MODES = ("approval", "open")


@dataclass(frozen=True)
class Config:
    common: CommonConfig
    database_url: str
    startup_timeout: float
    secret_pepper: Secret
    encryption_key: Secret
    verify_cache_ttl: int
    oauth: OAuthConfig
    redis_url: Secret | None = None
    apiphp_token_ttl: int = 0
    webhooks_url: str = "http://127.0.0.1:8084"
    importer_url: str = DEFAULT_IMPORTER_URL
    developer_signup: str = "approval"
    api_base_url: str = "http://127.0.0.1:8080"
    gateway_url: str = "http://127.0.0.1:8080"
    gateway_metrics_url: str = "http://127.0.0.1:9080"
    odata_url: str = "http://127.0.0.1:8082"

    @property
    def developers_need_approval(self) -> bool:
        return self.developer_signup == "approval"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        oauth = OAuthConfig.from_env(environ)
        signup = environ.get("DEVELOPER_SIGNUP", "approval").strip().lower() or "approval"
        if signup not in DEVELOPER_SIGNUP_MODES:
            raise ConfigError(f"DEVELOPER_SIGNUP must be one of {', '.join(DEVELOPER_SIGNUP_MODES)}")
        return cls(
            common=CommonConfig.from_env(environ, DEFAULT_PORT, service="auth"),
            database_url=read_database_url(environ),
            startup_timeout=read_float(environ, "STARTUP_TIMEOUT", 30.0, 0.1, 3600.0),
            secret_pepper=read_secret(environ, "SECRET_PEPPER"),
            encryption_key=read_secret(environ, "ENCRYPTION_KEY"),
            verify_cache_ttl=read_int(environ, "VERIFY_CACHE_TTL", 60, 0, 86_400),
            oauth=oauth,
            redis_url=read_redis_url(environ),
            apiphp_token_ttl=read_int(environ, "APIPHP_TOKEN_TTL", 0, 0, 3650 * 86_400),
            webhooks_url=read_url(environ, "WEBHOOKS_URL", ("http", "https"), "http://127.0.0.1:8084"),
            importer_url=read_url(environ, "IMPORTER_URL", ("http", "https"), DEFAULT_IMPORTER_URL).rstrip("/"),
            developer_signup=signup,
            api_base_url=read_url(environ, "API_BASE_URL", ("http", "https"), oauth.issuer),
            gateway_url=read_url(environ, "GATEWAY_URL", ("http", "https"), "http://127.0.0.1:8080").rstrip("/"),
            gateway_metrics_url=read_url(
                environ, "GATEWAY_METRICS_URL", ("http", "https"), "http://127.0.0.1:9080"
            ).rstrip("/"),
            odata_url=read_url(environ, "ODATA_URL", ("http", "https"), "http://127.0.0.1:8082").rstrip("/"),
        )

    def __repr__(self) -> str:
        return f"Config(common={self.common!r}, database_url='<set>', verify_cache_ttl={self.verify_cache_ttl})"
