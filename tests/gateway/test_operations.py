from __future__ import annotations

import logging

import pytest

from shared.metrics import METRICS
from tests.gateway.conftest import Gateway, basic, make_principal


async def test_metrics_count_requests_latency_auth_outcomes_and_cache_hits(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal())
    for _ in range(2):
        await gateway.client.get("/odata/products", headers={"X-API-Key": key})
    await gateway.client.get("/odata/products")
    metrics, _ = await gateway.client.server.app[METRICS].render()
    text = metrics.decode()
    assert 'platform_http_requests_total{method="GET",route="/odata/**",status="200"} 2.0' in text
    assert 'platform_http_requests_total{method="GET",route="/odata/**",status="401"} 1.0' in text
    assert 'platform_http_request_duration_seconds_count{method="GET",route="/odata/**",status="200"} 2.0' in text
    assert 'gateway_auth_outcomes_total{outcome="accepted"} 2.0' in text
    assert 'gateway_auth_outcomes_total{outcome="missing_credential"} 1.0' in text
    assert "gateway_verify_cache_hits_total 1.0" in text
    assert "gateway_verify_cache_misses_total 1.0" in text
    assert "gateway_verify_cache_entries 1.0" in text


async def test_request_metrics_are_labelled_by_route_template_never_by_the_raw_path(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal(frozenset({"imports:read"})))
    await gateway.client.get("/api/imports/secret-looking-id-123?access_token=abc", headers={"X-API-Key": key})
    await gateway.client.get("/no/such/route/private-path")
    await gateway.client.request("PROPFIND", "/odata/products")
    text = (await gateway.client.server.app[METRICS].render())[0].decode()
    assert 'route="/api/imports/{id}"' in text
    assert 'route="unmatched"' in text and 'method="other"' in text
    for raw in ("secret-looking-id-123", "access_token", "private-path", "PROPFIND"):
        assert raw not in text


async def test_metrics_are_not_served_on_the_public_port(gateway: Gateway) -> None:
    response = await gateway.client.get("/metrics")
    assert response.status == 404
    assert "platform_http_requests" not in await response.text()


async def test_access_logs_are_written_without_secrets(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    key = gateway.auth.api_key(make_principal())
    username, token = gateway.auth.basic(make_principal(credential_kind="api_token"))
    with caplog.at_level(logging.INFO):
        await gateway.client.get("/odata/products?access_token=in-the-query", headers={"X-API-Key": key})
        await gateway.client.get("/odata/products", headers=basic(username, token))
        await gateway.client.get("/odata/products", headers={"X-API-Key": "pk_test_wrong-secret"})
    access = [record for record in caplog.records if record.name == "access"]
    assert len(access) == 3
    # aiohttp's own access log belongs to the test servers; the service runs with it off (shared.service).
    ours = [record for record in caplog.records if record.name != "aiohttp.access"]
    everything = " ".join(f"{record.getMessage()} {getattr(record, 'fields', '')}" for record in ours)
    for secret in (key, token, "pk_test_wrong-secret", "in-the-query"):
        assert secret not in everything


async def test_the_openapi_document_is_generated_from_the_route_table(gateway: Gateway) -> None:
    response = await gateway.client.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    imports = document["paths"]["/api/import"]["post"]
    assert imports["x-permission"] == "imports:create" and imports["x-upstream"] == "importer"
    assert {"apiKey", "basic", "bearer"} <= set(document["components"]["securitySchemes"])
    assert document["paths"]["/auth/{path}"]["post"]["security"] == []
    page = await gateway.client.get("/docs")
    assert page.status == 200 and "/api/imports/{id}" in await page.text()
