"""Passwords of any character reach the services intact (the image's entrypoint percent-encodes them into the
URLs), and a URL with a password pasted in raw stops the service with one line that holds no part of it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import pytest
from yarl import URL

from shared.config import ConfigError, read_database_url, read_url
from tests.deploy.test_compose_stack import BASE64_ALPHABET, base64_secret

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def entrypoint() -> Any:
    spec = importlib.util.spec_from_file_location("entrypoint", ROOT / "deploy" / "container" / "entrypoint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parts(password: str) -> dict[str, str]:
    return {
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_USER": "fleet user",
        "POSTGRES_PASSWORD": password,
        "POSTGRES_DB": "commerce",
        "RABBITMQ_HOST": "rabbitmq",
        "RABBITMQ_USER": "platform",
        "RABBITMQ_PASSWORD": password,
        "REDIS_HOST": "redis",
        "REDIS_PASSWORD": password,
    }


def test_the_generated_secret_holds_every_base64_character() -> None:
    assert set(BASE64_ALPHABET) <= set(base64_secret())


def test_every_base64_character_survives_the_database_url(entrypoint: Any) -> None:
    password = base64_secret()
    url = read_database_url(entrypoint.connection_urls(parts(password)))
    split = urlsplit(url)
    assert (unquote(split.username or ""), unquote(split.password or "")) == ("fleet user", password)
    assert (split.hostname, split.port, split.path) == ("127.0.0.1", 5432, "/commerce")


def test_every_base64_character_survives_the_amqp_url(entrypoint: Any) -> None:
    password = base64_secret()
    url = read_url(entrypoint.connection_urls(parts(password)), "AMQP_URL", ("amqp", "amqps"))
    parsed = URL(url)  # how aio-pika reads it
    assert (parsed.user, parsed.password, parsed.host, parsed.port) == ("platform", password, "rabbitmq", 5672)
    assert parsed.path == "//"  # the default virtual host "/"


def test_every_base64_character_survives_the_redis_url(entrypoint: Any) -> None:
    password = base64_secret()
    url = URL(entrypoint.connection_urls(parts(password))["REDIS_URL"])
    assert (url.password, url.host, url.port, url.path) == (password, "redis", 6379, "/0")


def test_the_parts_do_not_reach_the_service(entrypoint: Any) -> None:
    env = entrypoint.connection_urls({**parts(base64_secret()), "LOG_LEVEL": "INFO"})
    assert sorted(env) == ["AMQP_URL", "DATABASE_URL", "LOG_LEVEL", "REDIS_URL"]


async def test_postgresql_accepts_the_built_url(entrypoint: Any, server_database_url: str) -> None:
    server = urlsplit(server_database_url)
    password = base64_secret()
    env = entrypoint.connection_urls(
        {
            "POSTGRES_HOST": server.hostname,
            "POSTGRES_PORT": str(server.port or 5432),
            "POSTGRES_USER": server.username,
            "POSTGRES_PASSWORD": password,
            "POSTGRES_DB": "postgres",
        }
    )
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        assert await conn.fetchval("SELECT current_user") == server.username
    finally:
        await conn.close()


@pytest.mark.parametrize("reserved", ["/", "?", "#", "@"])
def test_a_raw_password_in_a_url_is_refused_without_echoing_it(reserved: str) -> None:
    password = f"Sup3r{reserved}Secr3t+Pa55w0rd="
    with pytest.raises(ConfigError) as refused:
        read_database_url({"DATABASE_URL": f"postgresql://platform:{password}@postgres:5432/commerce"})
    assert not any(password[i : i + 4] in str(refused.value) for i in range(len(password) - 3))


def test_a_service_given_a_raw_password_exits_2_with_one_line_and_no_secret() -> None:
    password = "Xk9/Qz+Lm4=Tr7Yp"
    result = subprocess.run(
        [sys.executable, "-m", "services.odata"],
        env={
            "DATABASE_URL": f"postgresql://platform:{password}@postgres:5432/commerce",
            "INTERNAL_SIGNING_KEY": "k" * 40,
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(part in result.stderr for part in ("Xk9", "Qz+L", "Lm4=", "Tr7Yp"))
