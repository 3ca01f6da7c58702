"""The gateway's one route table: for every public path and method, who serves it and what it needs.

Adding a route is one line in ROUTES. A pattern is a path where "{name}" stands for one path segment and a
trailing "/**" for the path itself and anything below it. The first rule whose pattern matches the path decides;
a path no rule matches is a 404, a path matched only by rules for other methods a 405 with Allow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from aiohttp import web

from services.gateway.apiphp import apiphp_envelope
from shared.errors import ApiError, MethodNotAllowed, NotFound, error_response

ErrorEnvelope = Callable[[ApiError, web.BaseRequest], web.StreamResponse]
"""Renders an error for a route's clients: the platform's JSON envelope, or api.php's own."""


def json_envelope(error: ApiError, request: web.BaseRequest) -> web.StreamResponse:
    return error_response(error)


@dataclass(frozen=True)
class CredentialRule:
    """Where a route's clients may put their credential.

    headers: X-API-Key or Authorization (Basic, Bearer), the rule for every route today.
    query_parameter: a query parameter holding a bearer token (api.php's access_token), for its own routes only.
    form_field: a field of a small urlencoded or multipart POST body holding a bearer token (api.php's
        access_token); the gateway buffers such a body only up to apiphp.MAX_FORM_CREDENTIAL_BYTES and
        forwards it without the field.
    """

    headers: bool = True
    query_parameter: str | None = None
    form_field: str | None = None


HEADER_CREDENTIALS = CredentialRule()


@dataclass(frozen=True)
class RouteRule:
    methods: frozenset[str]
    pattern: str
    upstream: str
    public: bool = False
    # (resource, action) the gateway checks itself; None when the backend decides (e.g. per OData entity set).
    permission: tuple[str, str] | None = None
    credentials: CredentialRule = HEADER_CREDENTIALS
    # Whether browsers on the configured CORS origins may call it.
    cors: bool = True
    # Whether its requests may carry a secret (credential, password, code, session cookie): then HTTPS only.
    carries_secrets: bool = True
    envelope: ErrorEnvelope = field(default=json_envelope, compare=False)

    def matches(self, path: str) -> bool:
        return _compile(self.pattern).fullmatch(path) is not None


def _methods(methods: str) -> frozenset[str]:
    names = set(methods.upper().split())
    if "GET" in names:
        names.add("HEAD")
    return frozenset(names)


def protected(methods: str, pattern: str, upstream: str, permission: tuple[str, str] | None = None) -> RouteRule:
    return RouteRule(_methods(methods), pattern, upstream, public=False, permission=permission)


def public(methods: str, pattern: str, upstream: str, *, carries_secrets: bool = True, cors: bool = True) -> RouteRule:
    return RouteRule(_methods(methods), pattern, upstream, public=True, carries_secrets=carries_secrets, cors=cors)


APIPHP_CREDENTIALS = CredentialRule(headers=True, query_parameter="access_token", form_field="access_token")


def apiphp(methods: str, pattern: str, upstream: str, *, is_public: bool = False) -> RouteRule:
    """An api.php route (docs/apiphp.md): access_token in the query, a POST field or a Bearer header; api.php errors."""
    return RouteRule(
        _methods(methods),
        pattern,
        upstream,
        public=is_public,
        credentials=HEADER_CREDENTIALS if is_public else APIPHP_CREDENTIALS,
        envelope=apiphp_envelope,
    )


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    below = pattern.endswith("/**")
    base = pattern[:-3] if below else pattern
    regex = "".join(
        "[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part)
        for part in re.split(r"(\{[a-z_]+\})", base)
    )
    return re.compile(regex + ("(?:/.*)?" if below else ""))


ANY = "GET POST PUT PATCH DELETE"

ROUTES: tuple[RouteRule, ...] = (
    # Data APIs: the odata service checks the read permission of each entity set a query touches.
    protected("GET", "/odata/**", "odata"),
    protected("POST", "/api/query", "odata"),
    # Imports.
    protected("POST", "/api/import", "importer", ("imports", "create")),
    protected("GET", "/api/imports", "importer", ("imports", "read")),
    protected("GET", "/api/imports/{id}", "importer", ("imports", "read")),
    protected("POST", "/api/imports/{id}/cancel", "importer", ("imports", "create")),
    protected("GET", "/api/mappers", "importer", ("mappers", "read")),
    protected("POST", "/api/mappers", "importer", ("mappers", "create")),
    protected("POST", "/api/mappers/preview", "importer", ("mappers", "read")),
    protected("GET", "/api/mappers/{id}", "importer", ("mappers", "read")),
    protected("PUT", "/api/mappers/{id}", "importer", ("mappers", "update")),
    protected("DELETE", "/api/mappers/{id}", "importer", ("mappers", "delete")),
    # Webhook subscriptions and their delivery log (the webhooks service also limits users to their own and
    # apps to tokens whose scopes name webhooks).
    protected("GET", "/api/webhooks", "webhooks", ("webhooks", "read")),
    protected("POST", "/api/webhooks", "webhooks", ("webhooks", "create")),
    protected("GET", "/api/webhooks/{id}", "webhooks", ("webhooks", "read")),
    protected("PATCH", "/api/webhooks/{id}", "webhooks", ("webhooks", "update")),
    protected("DELETE", "/api/webhooks/{id}", "webhooks", ("webhooks", "delete")),
    protected("POST", "/api/webhooks/{id}/rotate-secret", "webhooks", ("webhooks", "update")),
    protected("GET", "/api/webhooks/{id}/deliveries", "webhooks", ("webhooks", "read")),
    protected("POST", "/api/webhooks/{id}/deliveries/{delivery_id}/resend", "webhooks", ("webhooks", "update")),
    # Management API: the auth service checks permissions (own keys vs all keys, self vs admin).
    protected(ANY, "/api/users/**", "auth"),
    protected(ANY, "/api/keys/**", "auth"),
    protected(ANY, "/api/me/**", "auth"),
    protected("GET", "/api/audit", "auth"),
    protected(ANY, "/api/apps/**", "auth"),
    protected(ANY, "/api/authorizations/**", "auth"),
    protected(ANY, "/api/plugins/**", "auth"),
    # OAuth authorize/token/revoke/introspect, login and consent pages, the control panel (its own session
    # cookie), key set and server metadata: public at the gateway, cookies and Authorization pass through. Never
    # cross-origin (cors.NEVER_CROSS_ORIGIN).
    public("GET POST", "/auth/**", "auth", cors=False),
    public("GET POST", "/panel/**", "auth", cors=False),
    public("GET", "/.well-known/jwks.json", "auth", carries_secrets=False),
    public("GET", "/.well-known/oauth-authorization-server", "auth", carries_secrets=False),
    # The Webasyst-compatible api.php access point (docs/apiphp.md): the token flow at auth, the methods at odata (which
    # checks the token's app scope and the user's read permission per method).
    apiphp("GET POST", "/api.php/auth", "auth", is_public=True),
    apiphp("POST", "/api.php/token", "auth", is_public=True),
    apiphp("POST", "/api.php/revoke", "auth"),
    apiphp("GET POST", "/api.php/**", "odata"),
    protected(ANY, "/api/apiphp/tokens/**", "auth"),
)


class RouteTable:
    def __init__(self, rules: Iterable[RouteRule]) -> None:
        self.rules = tuple(rules)

    def _matching(self, path: str) -> Iterator[RouteRule]:
        if any(segment in (".", "..") for segment in path.split("/")):
            return
        yield from (rule for rule in self.rules if rule.matches(path))

    def for_path(self, path: str) -> list[RouteRule]:
        return list(self._matching(path))

    def match(self, method: str, path: str) -> RouteRule:
        allowed: set[str] = set()
        for rule in self._matching(path):
            if method in rule.methods:
                return rule
            allowed |= rule.methods
        shown = path if len(path) <= 200 else path[:200] + "..."
        if not allowed:
            raise NotFound(f"No route for {method} {shown}")
        raise MethodNotAllowed(f"{method} is not allowed on {shown}", headers={"Allow": ", ".join(sorted(allowed))})
