"""CORS for browser clients (seed 000's jQuery, seed 001's fetch) on a configured list of origins.

The allowed origin is echoed, never "*", because these requests carry credentials (Authorization, X-API-Key).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from services.gateway.routes import RouteRule
from shared.errors import Forbidden, error_response

ALLOWED_REQUEST_HEADERS = "Authorization, X-API-Key, Content-Type, X-Request-Id"
EXPOSED_HEADERS = "X-Request-Id, WWW-Authenticate, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
PREFLIGHT_MAX_AGE = "600"
# The control panel (its own session cookie) and the authorization server (login, consent, tokens): no page of
# another origin may ever read their answers, whatever CORS_ORIGINS lists.
NEVER_CROSS_ORIGIN = ("/panel", "/auth")


def closed_to_other_origins(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in NEVER_CROSS_ORIGIN)


@dataclass(frozen=True)
class CorsPolicy:
    origins: frozenset[str] = frozenset()

    def headers(self, request: web.BaseRequest, rule: RouteRule | None) -> dict[str, str]:
        """Headers for an actual (non-preflight) answer."""
        origin = request.headers.get("Origin")
        if rule is None or not rule.cors or origin is None or origin not in self.origins:
            return {}
        if closed_to_other_origins(request.path):
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            "Vary": "Origin",
        }

    def is_preflight(self, request: web.BaseRequest) -> bool:
        return (
            request.method == "OPTIONS"
            and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers
        )

    def preflight(self, request: web.BaseRequest, rules: list[RouteRule]) -> web.Response:
        """Answer a preflight without credentials (browsers send none), per Fetch standard section 3.2."""
        origin = request.headers["Origin"]
        method = request.headers["Access-Control-Request-Method"].upper()
        allowed = sorted({name for rule in rules if rule.cors for name in rule.methods})
        if origin not in self.origins or method not in allowed or closed_to_other_origins(request.path):
            refusal = error_response(Forbidden("This origin or method is not allowed for cross-origin requests"))
            refusal.headers["Vary"] = "Origin"
            return refusal
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Methods": ", ".join(allowed),
                "Access-Control-Allow-Headers": ALLOWED_REQUEST_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                "Vary": "Origin",
            },
        )
