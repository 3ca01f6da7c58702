"""Settings of the webhooks service, read from the environment.

DATABASE_URL                     PostgreSQL URL (required)
AMQP_URL                         RabbitMQ URL (required)
BUS_PREFIX                       prefix of every exchange and queue name (default: platform)
LISTEN_HOST                      address to listen on (default: 127.0.0.1)
LISTEN_PORT                      port to listen on (default: 8084)
LOG_LEVEL                        DEBUG, INFO, WARNING or ERROR (default: INFO)
INTERNAL_SIGNING_KEY             key of the gateway's signed principal, at least 32 characters (required)
SHUTDOWN_TIMEOUT                 seconds in-flight requests and deliveries get on SIGTERM (default: 10)
STARTUP_TIMEOUT                  seconds to wait for PostgreSQL and RabbitMQ at start-up (default: 30)
ENCRYPTION_KEY                   key material (at least 32 characters) from which the key encrypting the signing
                                 secrets is derived (HKDF); the same setting the auth service reads (required)
AUTH_URL                         base URL of the auth service, asked who a subscription's owner is and what they
                                 may read (default: http://127.0.0.1:8081)
WEBHOOKS_DELIVERER               true: this replica also consumes events and makes deliveries (default: true)
WEBHOOKS_CONCURRENCY             deliveries one replica makes at a time (default: 32)
WEBHOOKS_RETRY_SCHEDULE          delays before the 2nd, 3rd, ... attempt, comma-separated, each a number with s, m
                                 or h (default: 5s,5m,30m,2h,5h,10h,10h: 8 attempts over 27.6 hours)
WEBHOOKS_RETRY_JITTER            each delay varies randomly by up to this fraction either way (default: 0.1)
WEBHOOKS_DISABLE_AFTER_FAILURES  consecutive failed attempts after which a subscription is disabled (default: 50)
WEBHOOKS_CONNECT_TIMEOUT         seconds to connect to a receiver (default: 5)
WEBHOOKS_TIMEOUT                 seconds a whole attempt may take, answer included (default: 15)
WEBHOOKS_MAX_RESPONSE_BYTES      most bytes of an answer read; the rest is dropped (default: 65536)
WEBHOOKS_ALLOW_PRIVATE_TARGETS   true: private, loopback and link-local receivers are allowed (default: false)
WEBHOOKS_ALLOWED_NETWORKS        comma-separated networks (CIDR) allowed although not public, e.g. 127.0.0.0/8 in
                                 development (default: none)
WEBHOOKS_LOG_RETENTION_DAYS      days a finished delivery and its attempts are kept (default: 30)
WEBHOOKS_OWNER_CACHE_SECONDS     seconds an owner's rights, as the auth service told them, are reused (default: 5)
WEBHOOKS_MAX_SUBSCRIPTIONS       subscriptions one user may own (default: 100)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import (
    CommonConfig,
    ConfigError,
    Secret,
    read_bool,
    read_database_url,
    read_float,
    read_int,
    read_secret,
    read_url,
)

DEFAULT_PORT = 8084
DEFAULT_RETRY_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h"
MAX_RETRY_STEPS = 30
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_schedule(raw: str, key: str = "WEBHOOKS_RETRY_SCHEDULE") -> tuple[float, ...]:
    delays: list[float] = []
    for item in raw.split(","):
        match = _DELAY.match(item.strip())
        if not match:
            raise ConfigError(f"{key} must list delays such as 5s,5m,2h, got {item.strip()!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if not 0.01 <= seconds <= 7 * 86_400:
            raise ConfigError(f"{key}: each delay must be between 10ms and 7 days, got {item.strip()!r}")
        delays.append(seconds)
    if not 1 <= len(delays) <= MAX_RETRY_STEPS:
        raise ConfigError(f"{key} must list between 1 and {MAX_RETRY_STEPS} delays")
    return tuple(delays)


def read_networks(environ: Mapping[str, str], key: str) -> tuple[Network, ...]:
    networks: list[Network] = []
    for item in (part.strip() for part in environ.get(key, "").split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{key} must list networks such as 127.0.0.0/8, got {item!r}") from None
    return tuple(networks)


@dataclass(frozen=True)
class Config:
    common: CommonConfig
    database_url: str
    startup_timeout: float
    encryption_key: Secret
    auth_url: str
    deliverer_enabled: bool
    concurrency: int
    retry_schedule: tuple[float, ...]
    retry_jitter: float
    disable_after_failures: int
    connect_timeout: float
    total_timeout: float
    max_response_bytes: int
    allow_private_targets: bool
    allowed_networks: tuple[Network, ...]
    log_retention_days: int
    owner_cache_seconds: float
    max_subscriptions: int

    def __repr__(self) -> str:
        # The database URL may hold a password.
        return f"Config(common={self.common!r}, deliverer_enabled={self.deliverer_enabled})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        return cls(
            common=CommonConfig.from_env(environ, DEFAULT_PORT, service="webhooks"),
            database_url=read_database_url(environ),
            startup_timeout=read_float(environ, "STARTUP_TIMEOUT", 30.0, 0.1, 3600.0),
            encryption_key=read_secret(environ, "ENCRYPTION_KEY"),
            auth_url=read_url(environ, "AUTH_URL", ("http", "https"), "http://127.0.0.1:8081"),
            deliverer_enabled=read_bool(environ, "WEBHOOKS_DELIVERER", True),
            concurrency=read_int(environ, "WEBHOOKS_CONCURRENCY", 32, 1, 1000),
            retry_schedule=parse_schedule(environ.get("WEBHOOKS_RETRY_SCHEDULE", "").strip() or DEFAULT_RETRY_SCHEDULE),
            retry_jitter=read_float(environ, "WEBHOOKS_RETRY_JITTER", 0.1, 0.0, 0.5),
            disable_after_failures=read_int(environ, "WEBHOOKS_DISABLE_AFTER_FAILURES", 50, 1, 1_000_000),
            connect_timeout=read_float(environ, "WEBHOOKS_CONNECT_TIMEOUT", 5.0, 0.1, 60.0),
            total_timeout=read_float(environ, "WEBHOOKS_TIMEOUT", 15.0, 0.1, 300.0),
            max_response_bytes=read_int(environ, "WEBHOOKS_MAX_RESPONSE_BYTES", 65536, 0, 10 * 1024 * 1024),
            allow_private_targets=read_bool(environ, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False),
            allowed_networks=read_networks(environ, "WEBHOOKS_ALLOWED_NETWORKS"),
            log_retention_days=read_int(environ, "WEBHOOKS_LOG_RETENTION_DAYS", 30, 1, 3650),
            owner_cache_seconds=read_float(environ, "WEBHOOKS_OWNER_CACHE_SECONDS", 5.0, 0.0, 3600.0),
            max_subscriptions=read_int(environ, "WEBHOOKS_MAX_SUBSCRIPTIONS", 100, 1, 100_000),
        )
