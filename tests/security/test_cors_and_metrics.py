"""CORS never opens the panel or the authorization server to other origins; metrics are served on a listener of
their own, never on a public port; a service refuses to start on the example's placeholder or repeated secrets."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import SERVICE_SECRET_ENV
from tests.security._stack_principal import ROOT, Stack, running_stack

pytestmark = pytest.mark.slow

ORIGIN = "https://shop.example"  # the stack's CORS_ORIGINS
SERVICES = ("gateway", "auth", "odata", "importer")


@pytest.fixture(scope="module")
def stack(
    database_url: str,
    amqp_url: str,
    bus_prefix: str,
    signing_key: str,
    admin_api_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": bus_prefix,
        "INTERNAL_SIGNING_KEY": signing_key,
        "LISTEN_HOST": "127.0.0.1",
        **SERVICE_SECRET_ENV,
    }
    with running_stack(env, Path(tmp_path_factory.mktemp("cors-metrics"))) as running:
        yield running


async def _scrape(stack: Stack, service: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(stack[service].metrics_url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return await response.text()


# CORS ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/panel", "/panel/api-keys", "/auth/login", "/auth/oauth/token", "/auth/oauth/authorize"]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_configured_origin_gets_no_cors_on_the_panel_or_the_authorization_server(
    stack: Stack, path: str, method: str
) -> None:
    async with aiohttp.ClientSession() as http:
        preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": method}
        async with http.options(stack.gateway + path, headers=preflight) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers
        async with http.request(
            method, stack.gateway + path, headers={"Origin": ORIGIN}, allow_redirects=False
        ) as response:
            assert not [name for name in response.headers if name.lower().startswith("access-control-")]


async def test_a_configured_origin_still_gets_cors_on_the_data_api(stack: Stack, admin_api_key: str) -> None:
    async with aiohttp.ClientSession() as http:
        preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
        async with http.options(stack.gateway + "/odata/products", headers=preflight) as response:
            assert response.status == 204
            assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        headers = {"Origin": ORIGIN, "X-API-Key": admin_api_key}
        async with http.get(stack.gateway + "/odata/products?$top=1", headers=headers) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


# Metrics -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
async def test_metrics_are_not_served_on_the_public_port(stack: Stack, service: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(stack[service].url + "/metrics") as response:
        assert response.status in (401, 404)
        assert "platform_http_requests" not in await response.text()


@pytest.mark.parametrize("service", SERVICES)
async def test_the_metrics_listener_serves_only_metrics(stack: Stack, service: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(stack[service].metrics_url.replace("/metrics", "/odata/products")) as response:
            assert response.status == 404
        async with http.get(stack[service].metrics_url.replace("/metrics", "/healthz")) as response:
            assert response.status == 404


async def test_requests_are_counted_by_route_template_and_status_in_every_service(
    stack: Stack, admin_api_key: str
) -> None:
    hidden = secrets.token_hex(6)
    headers = {"X-API-Key": admin_api_key}
    async with aiohttp.ClientSession() as http:
        for path in (
            f"/odata/products?$top=1&$filter=name eq '{hidden}'",
            f"/api/imports/{hidden}",
            "/api/users",
            f"/api/mappers/{hidden}",
        ):
            async with http.get(stack.gateway + path, headers=headers) as response:
                await response.read()
    gateway = await _scrape(stack, "gateway")
    assert 'platform_http_requests_total{method="GET",route="/odata/**",status="200"}' in gateway
    assert 'platform_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/imports/{id}"' in gateway
    assert 'gateway_auth_outcomes_total{outcome="accepted"}' in gateway
    assert "gateway_verify_cache_hits_total" in gateway and "gateway_verify_cache_misses_total" in gateway
    importer = await _scrape(stack, "importer")
    assert 'route="/api/imports/{job_id}",status="' in importer and 'route="/api/mappers/{mapper_id}"' in importer
    auth = await _scrape(stack, "auth")
    assert 'platform_http_requests_total{method="GET",route="/api/users",status="200"}' in auth
    assert 'route="/internal/verify"' in auth
    odata = await _scrape(stack, "odata")
    assert 'platform_http_requests_total{method="GET",route="/odata/{resource_path}",status="200"}' in odata
    for text in (gateway, importer, auth, odata):
        assert hidden not in text


@pytest.mark.parametrize("service", ("auth", "odata", "importer"))
async def test_postgresql_pool_sizes_are_reported(stack: Stack, service: str) -> None:
    text = await _scrape(stack, service)
    assert 'platform_db_pool_connections{state="idle"}' in text
    assert "platform_db_pool_max_connections" in text


async def test_the_gateway_reports_how_long_a_revocation_took_to_arrive(stack: Stack, admin_api_key: str) -> None:
    admin = {"X-API-Key": admin_api_key}
    async with aiohttp.ClientSession() as http:
        async with http.post(stack.gateway + "/api/keys", json={"name": "lag"}, headers=admin) as created:
            assert created.status == 201
            key = await created.json()
        async with http.get(stack.gateway + "/odata/products?$top=1", headers={"X-API-Key": key["key"]}) as used:
            assert used.status == 200
        async with http.post(stack.gateway + f"/api/keys/{key['id']}/revoke", headers=admin) as revoked:
            assert revoked.status == 200
    for _ in range(50):
        text = await _scrape(stack, "gateway")
        if "gateway_revocation_lag_seconds_count 0.0" not in text and "gateway_revocation_lag_seconds_count" in text:
            break
        await asyncio.sleep(0.1)
    count = next(line for line in text.splitlines() if line.startswith("gateway_revocation_lag_seconds_count"))
    assert float(count.split()[-1]) >= 1
    assert 'gateway_revocation_lag_seconds_bucket{le="1.0"}' in text


async def test_the_importer_reports_its_queue_depth_and_job_durations(stack: Stack, admin_api_key: str) -> None:
    tag = secrets.token_hex(4)
    form = aiohttp.FormData()
    form.add_field("file", f"sku,name,price,stock\nSEC-{tag},Metrics mug,9.50,3\n".encode(), filename="p.csv")
    form.add_field("entity", "products")
    form.add_field("mapperId", "products-default")
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.gateway + "/api/import", data=form, headers={"X-API-Key": admin_api_key}) as response,
    ):
        assert response.status == 200, await response.text()
    text = await _scrape(stack, "importer")
    assert "importer_queue_depth 0.0" in text
    assert 'importer_job_duration_seconds_count{entity="products",status="completed"}' in text


# Placeholder and repeated secrets ------------------------------------------------------------------------------


def _start(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{name}"],
        env={"PATH": os.environ.get("PATH", ""), **env, "METRICS_PORT": "0", "STARTUP_TIMEOUT": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("service", "setting"),
    [
        *((service, "INTERNAL_SIGNING_KEY") for service in SERVICES),
        ("auth", "SECRET_PEPPER"),
        ("auth", "ENCRYPTION_KEY"),
    ],
)
def test_a_placeholder_secret_stops_start_up_with_one_line_and_exit_2(
    base_env: dict[str, str], service: str, setting: str
) -> None:
    placeholder = "change-me-" + secrets.token_hex(16)
    result = _start(service, {**base_env, setting: placeholder})
    assert result.returncode == 2
    expected = f"{setting} still holds the example's placeholder; set a random value (openssl rand -hex 32)"
    assert result.stderr.strip() == f"{service}: configuration error: {expected}"
    assert placeholder not in result.stderr + result.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_a_signing_key_equal_to_another_secret_stops_start_up_with_exit_2(
    base_env: dict[str, str], service: str
) -> None:
    result = _start(service, {**base_env, "SECRET_PEPPER": base_env["INTERNAL_SIGNING_KEY"]})
    assert result.returncode == 2
    expected = "SECRET_PEPPER and INTERNAL_SIGNING_KEY must be different values"
    assert result.stderr.strip() == f"{service}: configuration error: {expected}"
    assert base_env["INTERNAL_SIGNING_KEY"] not in result.stderr + result.stdout


def test_the_pepper_equal_to_the_encryption_key_stops_the_auth_service(base_env: dict[str, str]) -> None:
    result = _start("auth", {**base_env, "ENCRYPTION_KEY": base_env["SECRET_PEPPER"]})
    assert result.returncode == 2
    assert "SECRET_PEPPER and ENCRYPTION_KEY must be different values" in result.stderr
