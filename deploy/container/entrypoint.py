"""The platform image's entrypoint: turns separate connection settings into the URLs the services read, then runs
the command (`python -m services.<name>`, or the init script).

A password pasted into a URL breaks it as soon as it holds `/`, `+`, `@` or `%` (as `openssl rand -base64` makes),
so compose passes passwords on their own and they are percent-encoded here:

    POSTGRES_HOST POSTGRES_PORT POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB  -> DATABASE_URL
    RABBITMQ_HOST RABBITMQ_PORT RABBITMQ_USER RABBITMQ_PASSWORD RABBITMQ_VHOST -> AMQP_URL
    REDIS_HOST REDIS_PORT REDIS_PASSWORD REDIS_DB                           -> REDIS_URL

A URL already set wins. The parts are removed from the environment the service sees. `--check` only validates:
no secret may still hold the example's `change-me` placeholder, and the three service keys must differ (the
compose `preflight` service runs it before PostgreSQL and RabbitMQ first store a password).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from urllib.parse import quote

PLACEHOLDER = "change-me"
SECRETS = (
    "POSTGRES_PASSWORD",
    "RABBITMQ_PASSWORD",
    "REDIS_PASSWORD",
    "INTERNAL_SIGNING_KEY",
    "SECRET_PEPPER",
    "ENCRYPTION_KEY",
)
# Secrets of optional parts (the three-node RabbitMQ of docker-compose.rabbitmq-cluster.yml): checked when given.
OPTIONAL_SECRETS = ("RABBITMQ_ERLANG_COOKIE",)
DISTINCT_KEYS = ("INTERNAL_SIGNING_KEY", "SECRET_PEPPER", "ENCRYPTION_KEY")
PARTS = {
    "DATABASE_URL": ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"),
    "AMQP_URL": ("RABBITMQ_HOST", "RABBITMQ_PORT", "RABBITMQ_USER", "RABBITMQ_PASSWORD", "RABBITMQ_VHOST"),
    "REDIS_URL": ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"),
}


class SettingError(Exception):
    """A setting cannot be used; the message names it and never holds its value."""


def _part(environ: Mapping[str, str], key: str, default: str | None = None) -> str:
    value = environ.get(key, "") if key.endswith("_PASSWORD") else environ.get(key, "").strip()
    if value:
        return value
    if default is None:
        raise SettingError(f"{key} is not set")
    return default


def _port(environ: Mapping[str, str], key: str, default: int) -> int:
    raw = environ.get(key, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingError(f"{key} must be a port number (1-65535)")
    return int(raw)


def _host(environ: Mapping[str, str], key: str) -> str:
    host = _part(environ, key)
    if any(c in host for c in "/@?#[]: "):
        raise SettingError(f"{key} must be a host name or an IPv4 address")
    return host


def _encoded(value: str) -> str:
    return quote(value, safe="")


def connection_urls(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the service gets: URLs built from their parts (unless already set), the parts removed."""
    env = dict(environ)
    if env.get("POSTGRES_PASSWORD") and not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = (
            f"postgresql://{_encoded(_part(env, 'POSTGRES_USER', 'postgres'))}:{_encoded(env['POSTGRES_PASSWORD'])}"
            f"@{_host(env, 'POSTGRES_HOST')}:{_port(env, 'POSTGRES_PORT', 5432)}"
            f"/{_encoded(_part(env, 'POSTGRES_DB', 'postgres'))}"
        )
    if env.get("RABBITMQ_PASSWORD") and not env.get("AMQP_URL"):
        env["AMQP_URL"] = (
            f"amqp://{_encoded(_part(env, 'RABBITMQ_USER', 'guest'))}:{_encoded(env['RABBITMQ_PASSWORD'])}"
            f"@{_host(env, 'RABBITMQ_HOST')}:{_port(env, 'RABBITMQ_PORT', 5672)}"
            f"/{_encoded(_part(env, 'RABBITMQ_VHOST', '/'))}"
        )
    if env.get("REDIS_PASSWORD") and not env.get("REDIS_URL"):
        database = _part(env, "REDIS_DB", "0")
        if not database.isdigit():
            raise SettingError("REDIS_DB must be a database number")
        env["REDIS_URL"] = (
            f"redis://:{_encoded(env['REDIS_PASSWORD'])}"
            f"@{_host(env, 'REDIS_HOST')}:{_port(env, 'REDIS_PORT', 6379)}/{database}"
        )
    for parts in PARTS.values():
        for key in parts:
            env.pop(key, None)
    return env


def check_secrets(environ: Mapping[str, str]) -> None:
    """Refuse the example's placeholders and one value reused for two service keys."""
    for key in (*SECRETS, *OPTIONAL_SECRETS):
        if PLACEHOLDER in environ.get(key, "").lower():
            raise SettingError(
                f"{key} still holds the example's placeholder: put a random value in .env "
                "(bash deploy/compose.sh secrets, or openssl rand -base64 32)"
            )
    present = [key for key in DISTINCT_KEYS if environ.get(key)]
    for index, key in enumerate(present):
        for other in present[index + 1 :]:
            if environ[key] == environ[other]:
                raise SettingError(f"{key} and {other} must be different values")


def main(argv: list[str]) -> int:
    try:
        check_secrets(os.environ)
        env = connection_urls(os.environ)
    except SettingError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    if argv == ["--check"]:
        print("settings look usable")
        return 0
    if not argv:
        print("usage: entrypoint.py COMMAND [ARG...] | --check", file=sys.stderr)
        return 2
    os.execvpe(argv[0], argv, env)  # noqa: S606 - the container's command, as docker run would start it


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
