from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.gateway import config as config_module
from services.gateway.config import Config
from shared.config import ConfigError
from tests.gateway.conftest import Gateway, StartGateway


async def test_healthz_answers_without_credentials(gateway: Gateway) -> None:
    response = await gateway.client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_readyz_checks_rabbitmq_and_the_auth_service(gateway: Gateway) -> None:
    response = await gateway.client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["checks"] == {"rabbitmq": "ok", "auth": "ok", "revocations": "ok"}


async def test_readyz_says_degraded_but_stays_ready_when_the_auth_service_is_down(gateway: Gateway) -> None:
    await gateway.auth_server.close()
    response = await gateway.client.get("/readyz")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["auth"].startswith("unavailable")


async def test_readyz_is_503_when_the_broker_connection_is_closed(start_gateway: StartGateway) -> None:
    from services.gateway.keys import BUS

    gateway = await start_gateway()
    await gateway.app[BUS].close()
    response = await gateway.client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["checks"]["rabbitmq"].startswith("unavailable")


def test_every_setting_read_is_documented_with_its_default(base_env: dict[str, str]) -> None:
    source = Path(config_module.__file__).read_text()
    read = set(re.findall(r'environ, "([A-Z_]+)"', source)) | {
        "AMQP_URL",
        "BUS_PREFIX",
        "LISTEN_HOST",
        "LISTEN_PORT",
        "LOG_LEVEL",
        "INTERNAL_SIGNING_KEY",
        "SHUTDOWN_TIMEOUT",
    }
    documented = {line.split()[0] for line in (config_module.__doc__ or "").splitlines() if line[:1].isupper()}
    assert read <= documented
    config = Config.from_env({key: value for key, value in base_env.items() if key != "LISTEN_PORT"})
    assert config.common.port == 8080
    assert config.auth_url == "http://127.0.0.1:8081"
    assert config.max_body_bytes == 110 * 1024 * 1024
    assert (config.upstream_timeout, config.verify_cache_size, config.verify_cache_max_age) == (30, 10_000, 60)


def test_a_malformed_backend_url_is_a_clear_config_error(base_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="ODATA_URL"):
        Config.from_env({**base_env, "ODATA_URL": "not a url"})


async def test_until_the_revocation_list_is_loaded_jwts_get_503_and_the_gateway_is_not_ready(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(AUTH_URL="http://127.0.0.1:9")
    response = await gateway.client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["checks"]["revocations"].startswith("unavailable")
    jwt_like = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    refused = await gateway.client.get("/odata/products", headers={"Authorization": f"Bearer {jwt_like}"})
    assert refused.status == 503
    assert (await refused.json())["error"]["code"] == "revocations_unavailable"
