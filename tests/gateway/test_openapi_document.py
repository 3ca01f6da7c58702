"""The OpenAPI document describes every public route, every request and response body, and every error shape."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from services.gateway.openapi import build_document
from services.gateway.routes import ROUTES

DOCUMENT = build_document(ROUTES)
OPERATIONS = [
    (path, method, operation) for path, item in DOCUMENT["paths"].items() for method, operation in item.items()
]
ERROR_SCHEMAS = {"#/components/schemas/Error", "#/components/schemas/OAuthError", "#/components/schemas/ApiPhpError"}


def _refs(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["$ref"]} if "$ref" in schema else set()
        return found.union(*(_refs(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_refs(value) for value in schema))
    return set()


def test_schemathesis_loads_the_document_and_finds_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    loaded = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    assert loaded == {(method.upper(), path) for path, method, _ in OPERATIONS}


@pytest.mark.parametrize("rule", ROUTES, ids=lambda rule: rule.pattern)
def test_every_route_of_the_table_is_documented(rule: Any) -> None:
    """An exact route with each of its methods; a "/**" route by the operations below it (the gateway forwards
    any method there, the service answers the ones it has)."""
    if not rule.pattern.endswith("/**"):
        documented = {method.upper() for method in DOCUMENT["paths"][rule.pattern]}
        assert rule.methods - {"HEAD"} <= documented
        return
    base = rule.pattern[:-3]
    below = [operation for path, _, operation in OPERATIONS if path == base or path.startswith(base + "/")]
    assert any(operation["x-upstream"] == rule.upstream for operation in below)


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_every_answer_with_a_body_has_a_schema_and_every_error_a_documented_shape(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    for status, response in operation["responses"].items():
        for content_type, media in response.get("content", {}).items():
            assert "schema" in media, (status, content_type)
            if int(status) >= 400 and content_type == "application/json":
                assert _refs(media["schema"]) and _refs(media["schema"]) <= ERROR_SCHEMAS, status
    if method in ("post", "put", "patch") and not path.startswith(("/auth/{", "/panel/", "/api.php/auth")):
        body = operation.get("requestBody")
        if body is not None:
            assert all("schema" in media for media in body["content"].values())


def test_the_import_operation_describes_its_waited_and_asynchronous_answers() -> None:
    answers = DOCUMENT["paths"]["/api/import"]["post"]["responses"]
    assert answers["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Job"}
    assert answers["202"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobQueued"}
    headers = {parameter["name"] for parameter in DOCUMENT["paths"]["/api/import"]["post"]["parameters"]}
    assert {"Prefer", "Idempotency-Key"} <= headers


def test_api_php_errors_are_described_in_json_and_xml() -> None:
    answers = DOCUMENT["paths"]["/api.php/{method}"]["get"]["responses"]
    for status in ("400", "401", "403", "404", "405"):
        assert set(answers[status]["content"]) == {"application/json", "text/xml"}
        assert answers[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApiPhpError"}
