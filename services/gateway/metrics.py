"""Prometheus metrics in the text exposition format: requests, latency, auth outcomes, cache hit ratio.

Hand-written rather than a client library: a few counters and one histogram, rendered on demand.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.gateway.breaker import AuthBreaker
from services.gateway.cache import PrincipalCache
from shared.counters import Counters

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ROUTE_LABEL = web.RequestKey("gateway_route", str)
UNOBSERVED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency_counts: dict[str, list[int]] = {}
        self.latency_sums: dict[str, float] = defaultdict(float)
        self.auth_outcomes: dict[str, int] = defaultdict(int)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(route, method, status)] += 1
        counts = self.latency_counts.setdefault(route, [0] * (len(LATENCY_BUCKETS) + 1))
        for index, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                counts[index] += 1
        counts[-1] += 1
        self.latency_sums[route] += seconds

    def auth_outcome(self, outcome: str) -> None:
        self.auth_outcomes[outcome] += 1

    def render(
        self, cache: PrincipalCache, counters: Counters | None = None, breaker: AuthBreaker | None = None
    ) -> str:
        lines = [
            "# HELP gateway_requests_total Requests answered, by route pattern, method and status.",
            "# TYPE gateway_requests_total counter",
        ]
        for (route, method, status), count in sorted(self.requests.items()):
            lines.append(
                f'gateway_requests_total{{route="{_label(route)}",method="{_label(method)}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP gateway_request_duration_seconds Time to answer, by route pattern.",
            "# TYPE gateway_request_duration_seconds histogram",
        ]
        for route, counts in sorted(self.latency_counts.items()):
            name = _label(route)
            for bound, count in zip(LATENCY_BUCKETS, counts, strict=False):
                lines.append(f'gateway_request_duration_seconds_bucket{{route="{name}",le="{bound}"}} {count}')
            lines.append(f'gateway_request_duration_seconds_bucket{{route="{name}",le="+Inf"}} {counts[-1]}')
            lines.append(f'gateway_request_duration_seconds_sum{{route="{name}"}} {self.latency_sums[route]:.6f}')
            lines.append(f'gateway_request_duration_seconds_count{{route="{name}"}} {counts[-1]}')
        lines += [
            "# HELP gateway_auth_outcomes_total Credential checks, by outcome.",
            "# TYPE gateway_auth_outcomes_total counter",
        ]
        for outcome, count in sorted(self.auth_outcomes.items()):
            lines.append(f'gateway_auth_outcomes_total{{outcome="{_label(outcome)}"}} {count}')
        lines += [
            "# HELP gateway_verify_cache_hits_total Verifications answered from the cache.",
            "# TYPE gateway_verify_cache_hits_total counter",
            f"gateway_verify_cache_hits_total {cache.hits}",
            "# HELP gateway_verify_cache_misses_total Verifications that had to ask the auth service.",
            "# TYPE gateway_verify_cache_misses_total counter",
            f"gateway_verify_cache_misses_total {cache.misses}",
            "# HELP gateway_verify_cache_entries Principals currently cached.",
            "# TYPE gateway_verify_cache_entries gauge",
            f"gateway_verify_cache_entries {len(cache)}",
            "# HELP gateway_verify_outage_grace_total Principals accepted in the grace period of an auth outage.",
            "# TYPE gateway_verify_outage_grace_total counter",
            f"gateway_verify_outage_grace_total {cache.stale_hits}",
        ]
        if breaker is not None:
            lines += [
                "# HELP gateway_auth_breaker_open 1 while the circuit breaker refuses to call the auth service.",
                "# TYPE gateway_auth_breaker_open gauge",
                f"gateway_auth_breaker_open {int(breaker.is_open)}",
                "# HELP gateway_auth_breaker_opened_total Times the breaker opened.",
                "# TYPE gateway_auth_breaker_opened_total counter",
                f"gateway_auth_breaker_opened_total {breaker.opened_total}",
            ]
        if counters is not None:
            lines += [
                "# HELP ratelimit_backend_fallback_total Rate-limit decisions taken in this replica's memory because "
                "Redis was unreachable.",
                "# TYPE ratelimit_backend_fallback_total counter",
                f"ratelimit_backend_fallback_total {counters.fallbacks}",
                "# HELP ratelimit_backend_degraded 1 while Redis is configured but unreachable.",
                "# TYPE ratelimit_backend_degraded gauge",
                f"ratelimit_backend_degraded {int(counters.degraded)}",
            ]
        return "\n".join(lines) + "\n"


def metrics_middleware(metrics: Metrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def observe(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            route = request.get(ROUTE_LABEL, "unmatched")
            if request.path not in UNOBSERVED_PATHS:
                metrics.observe(route, request.method, status, time.perf_counter() - started)

    return observe
