from __future__ import annotations

import logging

import pytest

from tests.gateway.conftest import Gateway, basic, make_principal


async def test_metrics_count_requests_latency_auth_outcomes_and_cache_hits(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal())
    for _ in range(2):
        await gateway.client.get("/odata/products", headers={"X-API-Key": key})
    await gateway.client.get("/odata/products")
    response = await gateway.client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert 'gateway_requests_total{route="/odata/**",method="GET",status="200"} 2' in text
    assert 'gateway_requests_total{route="/odata/**",method="GET",status="401"} 1' in text
    assert 'gateway_request_duration_seconds_count{route="/odata/**"} 3' in text
    assert 'gateway_auth_outcomes_total{outcome="accepted"} 2' in text
    assert 'gateway_auth_outcomes_total{outcome="missing_credential"} 1' in text
    assert "gateway_verify_cache_hits_total 1" in text
    assert "gateway_verify_cache_misses_total 1" in text


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
