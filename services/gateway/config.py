"""Settings of the gateway, read from the environment.

AMQP_URL              RabbitMQ URL (required); the gateway consumes the auth service's revocation events
BUS_PREFIX            name prefix of exchanges and queues (default "platform")
LISTEN_HOST           address to listen on (default 127.0.0.1)
LISTEN_PORT           port to listen on (default 8080)
LOG_LEVEL             DEBUG, INFO, WARNING or ERROR (default INFO)
INTERNAL_SIGNING_KEY  key of the signed principal sent to backends, at least 32 characters (required)
SHUTDOWN_TIMEOUT      seconds in-flight requests get to finish on SIGTERM (default 10)
STARTUP_TIMEOUT       seconds to wait for RabbitMQ at start-up before giving up (default 30)
AUTH_URL              base URL of the auth service (default http://127.0.0.1:8081)
ODATA_URL             base URL of the odata service (default http://127.0.0.1:8082)
IMPORTER_URL          base URL of the importer service (default http://127.0.0.1:8083)
WEBHOOKS_URL          base URL of the webhooks service (default http://127.0.0.1:8084)
MAX_BODY_BYTES        largest request body forwarded to a backend, in bytes; more is a 413 (default 115343360,
                      i.e. 110 MB, room for a 100 MB upload and its multipart framing)
UPSTREAM_TIMEOUT      seconds a backend may stay silent (connect, or between reads) before a 504 (default 30)
CLIENT_BODY_TIMEOUT   seconds a client may stall while sending a request body before a 408 (default 30)
UPSTREAM_POOL_SIZE    most open connections to each backend (default 100)
VERIFY_TIMEOUT        seconds the auth service gets to answer a verification before a 503 (default 5)
VERIFY_CACHE_SIZE     most verified principals kept in memory (default 10000; 0 disables the cache)
VERIFY_CACHE_MAX_AGE  most seconds a verified principal is reused without asking the auth service again
                      (default 60; never past the credential's expiry nor the auth service's cache_ttl)
VERIFY_BREAKER_THRESHOLD  consecutive failed verifications (timeouts, errors) after which the gateway stops
                      asking the auth service and answers 503 with Retry-After at once, probing it in the
                      background until it answers (default 3; 0 disables the breaker)
VERIFY_BREAKER_PROBE_INTERVAL  seconds between probes of the auth service while the breaker is open (default 2)
VERIFY_OUTAGE_GRACE   seconds past its cache entry's end that a principal verified before an auth outage keeps
                      working during the outage, while the revocation bus is connected (default 300; 0 = none)
RATE_LIMIT_WINDOW     length of a rate-limit window in seconds (default 60). A budget of N per window is a burst of
                      up to N requests, refilled evenly at one every WINDOW/N seconds (GCRA)
RATE_LIMIT_API_KEY    requests per window for one API key (default 6000; 0 = unlimited)
RATE_LIMIT_BASIC      requests per window for one user's Basic API token (default 6000; 0 = unlimited)
RATE_LIMIT_BEARER     requests per window for one bearer token (default 6000; 0 = unlimited)
RATE_LIMIT_ANONYMOUS  requests per window from one client address without a valid credential: public routes and
                      refused credentials (default 300; 0 = unlimited)
REDIS_URL             Redis that every replica counts rate limits in, so they hold across replicas (default: unset,
                      each replica counts in its own memory; while Redis is down, it does so too)
ALLOW_INSECURE_HTTP   accept requests that carry secrets (API keys, Basic credentials, bearer and api.php tokens,
                      the OAuth endpoints, login, consent and panel pages) over plain HTTP from any address
                      (default false; loopback clients and trusted proxies saying X-Forwarded-Proto: https are
                      always accepted)
HSTS_MAX_AGE          max-age in seconds of the Strict-Transport-Security header on every HTTPS answer
                      (default 31536000, one year)
TRUSTED_PROXIES       comma-separated addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For and
                      X-Forwarded-Proto are believed (default: none)
TLS_CERT_FILE         PEM certificate chain: when set (with TLS_KEY_FILE) the gateway serves HTTPS itself
                      (default: unset, plain HTTP behind a TLS-terminating proxy)
TLS_KEY_FILE          PEM private key of TLS_CERT_FILE (default: unset)
OAUTH_ISSUER          issuer (iss) that JWT access tokens must carry, as the auth service is configured
                      (default http://127.0.0.1:8080)
OAUTH_AUDIENCE        audience (aud) that JWT access tokens must carry (default: OAUTH_ISSUER)
CORS_ORIGINS          comma-separated origins (scheme://host[:port]) whose browser pages may call the API with
                      credentials (default: none; "*" is refused because requests carry credentials)
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shared.config import (
    CommonConfig,
    ConfigError,
    Secret,
    read_bool,
    read_float,
    read_int,
    read_redis_url,
    read_str,
    read_url,
)

DEFAULT_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 110 * 1024 * 1024
# Each backend's name, which is also the audience of the signed principals it accepts.
UPSTREAM_NAMES = ("auth", "odata", "importer", "webhooks")


@dataclass(frozen=True)
class Config:
    common: CommonConfig
    startup_timeout: float
    auth_url: str
    odata_url: str
    importer_url: str
    webhooks_url: str
    max_body_bytes: int
    upstream_timeout: float
    upstream_pool_size: int
    client_body_timeout: float
    verify_timeout: float
    verify_cache_size: int
    verify_cache_max_age: float
    verify_breaker_threshold: int
    verify_breaker_probe_interval: float
    verify_outage_grace: float
    rate_limit_window: float
    rate_limits: dict[str, int]  # by credential kind: api_key, basic, bearer, anonymous
    allow_insecure_http: bool
    hsts_max_age: int
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    cors_origins: frozenset[str]
    tls_cert_file: Path | None
    tls_key_file: Path | None
    oauth_issuer: str
    oauth_audience: str
    redis_url: Secret | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None for plain HTTP."""
        if self.tls_cert_file is None or self.tls_key_file is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(f"TLS_CERT_FILE / TLS_KEY_FILE cannot be loaded: {type(error).__name__}") from None
        return context

    @property
    def upstreams(self) -> dict[str, str]:
        """Base URL of every backend, by the name the route table uses."""
        return {
            "auth": self.auth_url,
            "odata": self.odata_url,
            "importer": self.importer_url,
            "webhooks": self.webhooks_url,
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        http = ("http", "https")
        return cls(
            common=CommonConfig.from_env(environ, DEFAULT_PORT, service="gateway"),
            startup_timeout=read_float(environ, "STARTUP_TIMEOUT", 30.0, 0.1, 3600.0),
            auth_url=read_url(environ, "AUTH_URL", http, "http://127.0.0.1:8081"),
            odata_url=read_url(environ, "ODATA_URL", http, "http://127.0.0.1:8082"),
            importer_url=read_url(environ, "IMPORTER_URL", http, "http://127.0.0.1:8083"),
            webhooks_url=read_url(environ, "WEBHOOKS_URL", http, "http://127.0.0.1:8084"),
            max_body_bytes=read_int(environ, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 0, 2**40),
            upstream_timeout=read_float(environ, "UPSTREAM_TIMEOUT", 30.0, 0.01, 3600.0),
            upstream_pool_size=read_int(environ, "UPSTREAM_POOL_SIZE", 100, 1, 10_000),
            client_body_timeout=read_float(environ, "CLIENT_BODY_TIMEOUT", 30.0, 0.01, 3600.0),
            verify_timeout=read_float(environ, "VERIFY_TIMEOUT", 5.0, 0.01, 120.0),
            verify_cache_size=read_int(environ, "VERIFY_CACHE_SIZE", 10_000, 0, 10_000_000),
            verify_cache_max_age=read_float(environ, "VERIFY_CACHE_MAX_AGE", 60.0, 0.0, 86_400.0),
            verify_breaker_threshold=read_int(environ, "VERIFY_BREAKER_THRESHOLD", 3, 0, 1000),
            verify_breaker_probe_interval=read_float(environ, "VERIFY_BREAKER_PROBE_INTERVAL", 2.0, 0.05, 600.0),
            verify_outage_grace=read_float(environ, "VERIFY_OUTAGE_GRACE", 300.0, 0.0, 86_400.0),
            rate_limit_window=read_float(environ, "RATE_LIMIT_WINDOW", 60.0, 1.0, 86_400.0),
            rate_limits={
                "api_key": read_int(environ, "RATE_LIMIT_API_KEY", 6000, 0, 10**9),
                "basic": read_int(environ, "RATE_LIMIT_BASIC", 6000, 0, 10**9),
                "bearer": read_int(environ, "RATE_LIMIT_BEARER", 6000, 0, 10**9),
                "anonymous": read_int(environ, "RATE_LIMIT_ANONYMOUS", 300, 0, 10**9),
            },
            allow_insecure_http=read_bool(environ, "ALLOW_INSECURE_HTTP", False),
            hsts_max_age=read_int(environ, "HSTS_MAX_AGE", 31_536_000, 0, 2 * 31_536_000),
            trusted_proxies=_read_networks(environ, "TRUSTED_PROXIES"),
            cors_origins=_read_origins(environ, "CORS_ORIGINS"),
            redis_url=read_redis_url(environ),
            **_read_tls_files(environ),
            **_read_oauth(environ),
        )


def _read_oauth(environ: Mapping[str, str]) -> dict[str, str]:
    issuer = read_url(environ, "OAUTH_ISSUER", ("http", "https"), "http://127.0.0.1:8080")
    return {"oauth_issuer": issuer, "oauth_audience": read_str(environ, "OAUTH_AUDIENCE", issuer)}


def _items(environ: Mapping[str, str], key: str) -> list[str]:
    return [item.strip() for item in environ.get(key, "").split(",") if item.strip()]


def _read_networks(environ: Mapping[str, str], key: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in _items(environ, key):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{key} must list IP addresses or networks such as 10.0.0.0/8, got {item!r}") from None
    return tuple(networks)


def _read_origins(environ: Mapping[str, str], key: str) -> frozenset[str]:
    origins = set()
    for item in _items(environ, key):
        parts = urlsplit(item)
        if item == "*" or parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError(f"{key} must list origins such as https://shop.example.com, got {item!r}")
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return frozenset(origins)


def _read_tls_files(environ: Mapping[str, str]) -> dict[str, Path | None]:
    cert = environ.get("TLS_CERT_FILE", "").strip()
    key = environ.get("TLS_KEY_FILE", "").strip()
    if bool(cert) != bool(key):
        raise ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
    for name, value in (("TLS_CERT_FILE", cert), ("TLS_KEY_FILE", key)):
        if value and not Path(value).is_file():
            raise ConfigError(f"{name} does not name a readable file")
    return {"tls_cert_file": Path(cert) if cert else None, "tls_key_file": Path(key) if key else None}
