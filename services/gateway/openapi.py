"""The OpenAPI 3.1 document of the public API: the route table's paths, methods, credentials and permissions,
with the request and response bodies of services/gateway/openapi_operations.py, and a plain docs page.

Every route of the table is in the document. A route with concrete operations (the JSON APIs) is documented by
them; the browser pages (/auth/**, /panel/**, /api.php/auth) keep one generic entry with an HTML answer. Every
operation lists its error answers with their shape: the platform's {"error": {"code", "message"}}, OAuth's
{"error", "error_description"} on the OAuth endpoints, api.php's own on /api.php.
"""

from __future__ import annotations

import html
import re
from typing import Any

from services.gateway.openapi_operations import OPERATIONS, SCHEMAS, Body, Operation, ref
from services.gateway.routes import RouteRule, RouteTable
from shared.errors import ApiError

SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key (seed 001)."},
    "basic": {"type": "http", "scheme": "basic", "description": "username:API token (seed 002)."},
    "bearer": {"type": "http", "scheme": "bearer", "description": "An OAuth 2.0 access token."},
    "apiPhpToken": {
        "type": "apiKey",
        "in": "query",
        "name": "access_token",
        "description": "An api.php token (seed 000); also as a POST field or Authorization: Bearer.",
    },
}
ERROR_SCHEMA = SCHEMAS["Error"]
# What the gateway itself may answer on any route, and on a protected one.
GATEWAY_ERRORS = {"429": "Rate limit exceeded", "502": "Backend unavailable", "504": "Backend too slow"}
CREDENTIAL_ERRORS = {
    "400": "Malformed request, or two credentials",
    "401": "Missing or invalid credential",
    "403": "Permission missing",
    "503": "Cannot verify the credential now",
}
ERROR_DESCRIPTIONS = {
    "400": "Malformed request",
    "404": "Not found",
    "405": "Method not allowed",
    "408": "The upload took too long",
    "409": "Conflict",
    "413": "Body too large",
    "415": "Unsupported media type",
    "501": "Not implemented",
}
HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}


def openapi_path(pattern: str) -> str:
    return pattern[:-3] + "/{path}" if pattern.endswith("/**") else pattern


def _example_path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template)


def operations_by_rule(rules: tuple[RouteRule, ...]) -> dict[int, list[Operation]]:
    """Each concrete operation under the rule that routes it (the first rule matching its path and method)."""
    table = RouteTable(rules)
    grouped: dict[int, list[Operation]] = {}
    for operation in OPERATIONS:
        try:
            rule = table.match(operation.method, _example_path(operation.path))
        except ApiError:
            continue
        grouped.setdefault(id(rule), []).append(operation)
    return grouped


def _content(body: Body) -> dict[str, Any]:
    if not body.content_type:
        return {}
    return {"content": {body.content_type: {"schema": body.schema}}}


def _error_content(schema: dict[str, Any], rule: RouteRule) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if rule.envelope.__name__ == "apiphp_envelope":
        content["text/xml"] = {"schema": {"type": "string"}}
    return content


def _errors(rule: RouteRule, statuses: tuple[str, ...], schema: dict[str, Any]) -> dict[str, Any]:
    """The error answers of one operation: the service's own (`statuses`, in `schema`) and the gateway's."""
    gateway = dict(GATEWAY_ERRORS)
    if not rule.public:
        gateway |= CREDENTIAL_ERRORS
        if rule.permission:
            gateway["403"] = f"Permission missing ({':'.join(rule.permission)})"
    # The gateway's own refusals are the platform's envelope on JSON routes, api.php's on api.php routes.
    gateway_schema = schema if rule.envelope.__name__ == "apiphp_envelope" else ref("Error")
    answers: dict[str, Any] = {}
    for status in sorted(set(gateway) | set(statuses)):
        shapes = [
            shape for shape, holds in ((schema, status in statuses), (gateway_schema, status in gateway)) if holds
        ]
        shape = shapes[0] if len(shapes) == 1 or shapes[0] == shapes[1] else {"anyOf": shapes}
        answers[status] = {
            "description": gateway.get(status) or ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": _error_content(shape, rule),
        }
    return answers


def _security(rule: RouteRule) -> list[dict[str, list[str]]]:
    if rule.public:
        return []
    schemes: list[dict[str, list[str]]] = [{"apiKey": []}, {"basic": []}, {"bearer": []}]
    if rule.credentials.query_parameter:
        schemes.append({"apiPhpToken": []})
    return schemes


def _described(rule: RouteRule, operation: Operation) -> dict[str, Any]:
    responses = {
        status: {"description": body.description or "OK", **_content(body)}
        for status, body in operation.answers.items()
    }
    for status, error in _errors(rule, operation.errors, operation.error_schema).items():
        responses.setdefault(status, error)
    described: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": f"{operation.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', operation.path)}",
        "tags": [rule.upstream],
        "responses": responses,
        "x-upstream": rule.upstream,
        "security": _security(rule),
    }
    if operation.parameters:
        described["parameters"] = list(operation.parameters)
    if operation.request is not None:
        described["requestBody"] = {"required": True, **_content(operation.request)}
    if rule.permission is not None:
        described["x-permission"] = ":".join(rule.permission)
    return described


def _generic(rule: RouteRule, method: str) -> dict[str, Any]:
    """A browser page (or a route without concrete operations): an HTML answer, redirects, errors."""
    responses: dict[str, Any] = {
        "200": {"description": f"The page of the {rule.upstream} service", "content": HTML_PAGE},
        "302": {"description": "Redirect (OAuth and api.php flows)"},
        "303": {"description": "Redirect after a form"},
    }
    for status, error in _errors(rule, ("400", "404", "405", "413"), ref("Error")).items():
        error["content"] = {**error["content"], **HTML_PAGE}
        responses.setdefault(status, error)
    operation: dict[str, Any] = {
        "summary": f"{method} {rule.pattern} ({rule.upstream} service)",
        "tags": [rule.upstream],
        "responses": responses,
        "x-upstream": rule.upstream,
        "security": _security(rule),
    }
    if rule.permission is not None:
        operation["x-permission"] = ":".join(rule.permission)
    if rule.pattern.endswith("/**"):
        operation["parameters"] = [
            {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}, "description": "rest"}
        ]
    return operation


def build_document(rules: tuple[RouteRule, ...], version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    grouped = operations_by_rule(rules)
    for rule in rules:
        concrete = grouped.get(id(rule), [])
        for operation in concrete:
            paths.setdefault(operation.path, {}).setdefault(operation.method.lower(), _described(rule, operation))
        # Pages keep their generic entry beside the concrete operations below them (/auth/** holds both).
        if not concrete or (rule.public and rule.pattern.endswith("/**")):
            for method in sorted(rule.methods - {"HEAD"}):
                paths.setdefault(openapi_path(rule.pattern), {}).setdefault(method.lower(), _generic(rule, method))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Commerce API platform", "version": version},
        "paths": paths,
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": SCHEMAS},
    }


def render_docs(rules: tuple[RouteRule, ...]) -> str:
    rows = "".join(
        "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(", ".join(sorted(rule.methods - {"HEAD"}))),
            html.escape(rule.pattern),
            html.escape(rule.upstream),
            "public" if rule.public else "X-API-Key, Basic or Bearer",
            html.escape(":".join(rule.permission)) if rule.permission else "checked by the service",
        )
        for rule in rules
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>API routes</title></head><body>"
        "<h1>Commerce API platform: public routes</h1>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI 3.1).</p>"
        "<table border='1' cellpadding='4'><tr><th>Methods</th><th>Path</th><th>Service</th>"
        f"<th>Credentials</th><th>Permission</th></tr>{rows}</table></body></html>"
    )
