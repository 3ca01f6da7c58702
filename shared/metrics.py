"""Prometheus metrics of one service, kept in the service's own registry and served on a listener of their own
(METRICS_HOST:METRICS_PORT, see shared/service.py), never on the public port.

Every service counts its requests and their latency by route template (the pattern that matched, never the raw
path, so neither ids nor anything a client typed become label values) and status; services add their own metrics
through the same object. Values that are cheap to read where they live (a pool's size, a cache's counters) are
read when Prometheus scrapes, by a collector, rather than copied on every change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ROUTE_TEMPLATE = web.RequestKey("route_template", str)
UNMATCHED = "unmatched"
# Probes would outnumber real requests; they are not what the request metrics are for.
UNOBSERVED_PATHS = frozenset({"/healthz", "/readyz"})
REFRESH_TIMEOUT_SECONDS = 2.0
# Any other method is counted as "other", so a client cannot mint label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Refresh = Callable[[], Awaitable[None]]


def route_template(request: web.BaseRequest) -> str:
    """The route pattern that served a request: set by the handler (the gateway's route table) or aiohttp's."""
    explicit = request.get(ROUTE_TEMPLATE)
    if explicit is not None:
        return explicit
    match_info = getattr(request, "match_info", None)
    resource = match_info.route.resource if match_info is not None else None
    return resource.canonical if resource is not None else UNMATCHED


class _CallbackCollector(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


class ServiceMetrics:
    """The registry of one service (one per app, so tests and replicas never share counters)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self._refreshers: list[Refresh] = []
        self.requests = self.counter(
            "platform_http_requests",
            "Requests answered, by route template, method and status.",
            ("route", "method", "status"),
        )
        self.latency = self.histogram(
            "platform_http_request_duration_seconds",
            "Time from a request's arrival to its answer, by route template, method and status.",
            ("route", "method", "status"),
        )

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry)

    def histogram(
        self, name: str, documentation: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> Histogram:
        return Histogram(name, documentation, labels, buckets=buckets, registry=self.registry)

    def collect_with(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Add metrics computed at scrape time from state that lives elsewhere."""
        self.registry.register(_CallbackCollector(collect))

    def refresh_with(self, refresh: Refresh) -> None:
        """Run `refresh` (bounded by REFRESH_TIMEOUT_SECONDS) before each scrape: for values only I/O can read."""
        self._refreshers.append(refresh)

    def track_pool(self, pool: Callable[[], asyncpg.Pool | None]) -> None:
        """PostgreSQL pool sizes, read from asyncpg's own counters when scraped."""

        def collect() -> Iterable[Metric]:
            current = pool()
            if current is None:
                return
            size, idle = current.get_size(), current.get_idle_size()
            connections = GaugeMetricFamily(
                "platform_db_pool_connections", "Open PostgreSQL connections of the pool, by state.", labels=["state"]
            )
            connections.add_metric(["busy"], size - idle)
            connections.add_metric(["idle"], idle)
            yield connections
            yield GaugeMetricFamily(
                "platform_db_pool_max_connections", "Most connections the pool may open.", value=current.get_max_size()
            )

        self.collect_with(collect)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        labels = (route, method, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    async def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition (and its content type) in the format the scraper's Accept header prefers."""
        for refresh in self._refreshers:
            try:
                async with asyncio.timeout(REFRESH_TIMEOUT_SECONDS):
                    await refresh()
            except Exception as error:  # a scrape shows the last known values rather than failing
                log.warning("a metrics refresh failed: %s", type(error).__name__)
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
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
            if request.path not in UNOBSERVED_PATHS:
                method = request.method if request.method in KNOWN_METHODS else "other"
                self.observe_request(route_template(request), method, status, time.perf_counter() - started)


METRICS = web.AppKey("metrics", ServiceMetrics)


async def serve_metrics(request: web.Request) -> web.Response:
    body, content_type = await request.app[METRICS].render(request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def create_metrics_app(metrics: ServiceMetrics) -> web.Application:
    """The private listener's application: GET /metrics and nothing else."""
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/metrics", serve_metrics)
    return app
