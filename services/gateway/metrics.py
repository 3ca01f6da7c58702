"""The gateway's own metrics, beside every service's request counts and latency (shared/metrics.py): credential
check outcomes, the verification cache, and how long revocations take to arrive."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from services.gateway.breaker import AuthBreaker
from services.gateway.cache import PrincipalCache
from shared.counters import Counters
from shared.messages import CredentialRevoked
from shared.metrics import ServiceMetrics

# From the auth service recording a revocation to this gateway applying it: milliseconds normally, seconds or
# more while the broker was away.
REVOCATION_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class GatewayMetrics:
    def __init__(
        self,
        metrics: ServiceMetrics,
        cache: PrincipalCache,
        counters: Counters | None = None,
        breaker: Callable[[], AuthBreaker | None] = lambda: None,
    ) -> None:
        self._auth_outcomes = metrics.counter(
            "gateway_auth_outcomes",
            "Credential checks on protected routes, by outcome (accepted or error code).",
            ("outcome",),
        )
        self._revocation_lag = metrics.histogram(
            "gateway_revocation_lag_seconds",
            "Time from the auth service recording a revocation to this gateway applying it.",
            buckets=REVOCATION_LAG_BUCKETS,
        )
        self._revocations = metrics.counter("gateway_revocations_applied", "Revocation events applied.")
        self._cache = cache
        self._counters = counters
        self._breaker = breaker
        metrics.collect_with(self._cache_metrics)
        metrics.collect_with(self._outage_metrics)

    def auth_outcome(self, outcome: str) -> None:
        self._auth_outcomes.labels(outcome).inc()

    def revocation_applied(self, event: CredentialRevoked, now: float | None = None) -> None:
        self._revocations.inc()
        if event.created_at is not None:
            lag = (time.time() if now is None else now) - event.created_at
            self._revocation_lag.observe(max(0.0, lag))

    def _cache_metrics(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "gateway_verify_cache_hits", "Verifications answered from the cache.", value=self._cache.hits
        )
        yield CounterMetricFamily(
            "gateway_verify_cache_misses", "Verifications that had to ask the auth service.", value=self._cache.misses
        )
        yield GaugeMetricFamily("gateway_verify_cache_entries", "Principals currently cached.", value=len(self._cache))
        yield CounterMetricFamily(
            "gateway_verify_outage_grace",
            "Principals accepted in the grace period of an auth outage.",
            value=self._cache.stale_hits,
        )

    def _outage_metrics(self) -> Iterable[Metric]:
        breaker = self._breaker()
        if breaker is not None:
            yield GaugeMetricFamily(
                "gateway_auth_breaker_open",
                "1 while the circuit breaker refuses to call the auth service.",
                value=int(breaker.is_open),
            )
            yield CounterMetricFamily(
                "gateway_auth_breaker_opened", "Times the breaker opened.", value=breaker.opened_total
            )
        if self._counters is not None:
            yield CounterMetricFamily(
                "ratelimit_backend_fallback",
                "Rate-limit decisions taken in this replica's memory because Redis was unreachable.",
                value=self._counters.fallbacks,
            )
            yield GaugeMetricFamily(
                "ratelimit_backend_degraded",
                "1 while Redis is configured but unreachable.",
                value=int(self._counters.degraded),
            )
