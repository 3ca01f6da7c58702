"""Reading settings from the environment: fail fast, say exactly which setting is wrong, never echo a secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it and says what is expected."""


@dataclass(frozen=True)
class Secret:
    """A secret setting: its value never appears in repr() or logs."""

    value: str

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    @property
    def bytes(self) -> bytes:
        return self.value.encode()


def require(environ: Mapping[str, str], key: str) -> str:
    value = environ.get(key, "").strip()
    if not value:
        raise ConfigError(f"{key} is not set")
    return value


def read_str(environ: Mapping[str, str], key: str, default: str) -> str:
    return environ.get(key, "").strip() or default


def read_url(environ: Mapping[str, str], key: str, schemes: tuple[str, ...], default: str | None = None) -> str:
    value = environ.get(key, "").strip() or default
    if not value:
        raise ConfigError(f"{key} is not set (expected a URL starting with {' or '.join(schemes)}://)")
    parts = urlsplit(value)
    malformed = ConfigError(
        f"{key} is malformed: expected {' or '.join(schemes)}://[user:password@]host[:port]/..., with any reserved "
        "character in the user name or password percent-encoded (/ as %2F, @ as %40, ? as %3F, # as %23)"
    )
    # A password holding /, ? or # ends the host part early: what follows lands in the path, query or fragment,
    # and the libraries' own errors would print part of it. The message above never holds the value.
    if parts.scheme not in schemes or "@" in parts.path + parts.query + parts.fragment or parts.netloc.count("@") > 1:
        raise malformed
    try:
        if not parts.hostname or parts.port == 0:
            raise malformed
    except ValueError:
        raise malformed from None
    if parts.password is not None and is_placeholder(parts.password):
        raise ConfigError(f"{key} still holds the example's placeholder password; set a random one")
    return value.rstrip("/") if parts.scheme in ("http", "https") else value


def read_int(environ: Mapping[str, str], key: str, default: int, minimum: int = 0, maximum: int = 2**62) -> int:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{key} must be between {minimum} and {maximum}, got {value}")
    return value


def read_float(
    environ: Mapping[str, str], key: str, default: float, minimum: float = 0.0, maximum: float = 1e12
) -> float:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{key} must be between {minimum} and {maximum}, got {value}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def read_bool(environ: Mapping[str, str], key: str, default: bool) -> bool:
    raw = environ.get(key, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{key} must be true or false, got {raw!r}")


PLACEHOLDER_MARKS = ("change-me", "replace-me")
# The settings whose values must differ from each other: one leaked or reused value must not open the others.
DISTINCT_SECRETS = ("SECRET_PEPPER", "ENCRYPTION_KEY", "INTERNAL_SIGNING_KEY")


def is_placeholder(value: str) -> bool:
    """Whether a secret still holds an example file's placeholder (compose.env.example writes change-me-...)."""
    lowered = value.lower()
    return any(mark in lowered for mark in PLACEHOLDER_MARKS)


def read_secret(environ: Mapping[str, str], key: str, min_length: int = 32) -> Secret:
    value = environ.get(key, "")
    if not value:
        raise ConfigError(f"{key} is not set (a random string of at least {min_length} characters)")
    if is_placeholder(value):
        raise ConfigError(f"{key} still holds the example's placeholder; set a random value (openssl rand -hex 32)")
    if len(value) < min_length:
        raise ConfigError(f"{key} is too short: at least {min_length} characters are required")
    return Secret(value)


def check_distinct_secrets(environ: Mapping[str, str]) -> None:
    """Refuse the same value in two of DISTINCT_SECRETS (those that are set: not every service reads all three)."""
    seen: dict[str, str] = {}
    for key in DISTINCT_SECRETS:
        value = environ.get(key, "")
        if not value:
            continue
        for other, other_value in seen.items():
            if value == other_value:
                raise ConfigError(f"{other} and {key} must be different values")
        seen[key] = value


# Where each service serves Prometheus metrics unless METRICS_PORT says otherwise: never its public port.
DEFAULT_METRICS_PORTS = {"gateway": 9080, "auth": 9081, "odata": 9082, "importer": 9083}


@dataclass(frozen=True)
class CommonConfig:
    """Settings every service reads the same way (the database URL is read by the services that have one).

    service is the service's own name: the audience its internal principals must be signed for, and the
    `service` label of its metrics."""

    service: str
    amqp_url: str | None
    bus_prefix: str
    host: str
    port: int
    log_level: str
    signing_key: Secret
    shutdown_timeout: float
    metrics_host: str
    metrics_port: int  # 0: no metrics listener

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], default_port: int, *, service: str, needs_bus: bool = True
    ) -> CommonConfig:
        """needs_bus=False for a service that never talks to RabbitMQ: it then neither reads nor requires AMQP_URL."""
        prefix = read_str(environ, "BUS_PREFIX", "platform")
        if not prefix.replace("-", "").replace("_", "").isalnum() or len(prefix) > 64:
            raise ConfigError("BUS_PREFIX must be letters, digits, '-' or '_' (at most 64)")
        level = read_str(environ, "LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        check_distinct_secrets(environ)
        return cls(
            service=service,
            amqp_url=read_url(environ, "AMQP_URL", ("amqp", "amqps")) if needs_bus else None,
            bus_prefix=prefix,
            host=read_str(environ, "LISTEN_HOST", "127.0.0.1"),
            port=read_int(environ, "LISTEN_PORT", default_port, 0, 65535),
            log_level=level,
            signing_key=read_secret(environ, "INTERNAL_SIGNING_KEY"),
            shutdown_timeout=read_float(environ, "SHUTDOWN_TIMEOUT", 10.0, 0.1, 600.0),
            metrics_host=read_str(environ, "METRICS_HOST", "127.0.0.1"),
            metrics_port=read_int(environ, "METRICS_PORT", DEFAULT_METRICS_PORTS.get(service, 0), 0, 65535),
        )


def read_database_url(environ: Mapping[str, str]) -> str:
    return read_url(environ, "DATABASE_URL", ("postgresql", "postgres"))


def read_redis_url(environ: Mapping[str, str]) -> Secret | None:
    """REDIS_URL, or None when unset (counters then stay in memory); a Secret, since the URL may hold a password."""
    value = environ.get("REDIS_URL", "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise ConfigError("REDIS_URL is malformed: expected redis://host:port/db, rediss://... or unix://path")
    return Secret(value)
