"""The OpenAPI 3.1 document of the public API, generated from the route table, and a plain docs page.

The gateway's view: paths, methods, the service that serves them, the credentials they take and the permission
the gateway checks. Request and response bodies are documented by each service's own API reference.
"""

from __future__ import annotations

import html
from typing import Any

from services.gateway.routes import RouteRule

SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key (seed 001)."},
    "basic": {"type": "http", "scheme": "basic", "description": "username:API token (seed 002)."},
    "bearer": {"type": "http", "scheme": "bearer", "description": "An OAuth 2.0 access token."},
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "target": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
}


def openapi_path(pattern: str) -> str:
    return pattern[:-3] + "/{path}" if pattern.endswith("/**") else pattern


def _operation(rule: RouteRule, method: str) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": f"The answer of the {rule.upstream} service"}}
    errors = {"429": "Rate limit exceeded", "502": "Backend unavailable", "504": "Backend too slow"}
    if not rule.public:
        errors |= {"400": "Two credentials", "401": "Missing or invalid credential", "503": "Cannot verify now"}
        errors["403"] = "Permission missing" + (f" ({':'.join(rule.permission)})" if rule.permission else "")
    for status, description in sorted(errors.items()):
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation: dict[str, Any] = {
        "summary": f"{method} {rule.pattern} ({rule.upstream} service)",
        "tags": [rule.upstream],
        "responses": responses,
        "x-upstream": rule.upstream,
        "security": [] if rule.public else [{"apiKey": []}, {"basic": []}, {"bearer": []}],
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
    for rule in rules:
        item = paths.setdefault(openapi_path(rule.pattern), {})
        for method in sorted(rule.methods - {"HEAD"}):
            item.setdefault(method.lower(), _operation(rule, method))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Commerce API platform", "version": version},
        "paths": paths,
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": {"Error": ERROR_SCHEMA}},
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
