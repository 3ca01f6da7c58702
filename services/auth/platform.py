"""What the dashboard shows about the rest of the platform: each service's readiness (its /readyz), the import
queue's depth, the gateway's recent 4xx and 5xx rates (from its /metrics), and a user's recent imports, read from
the importer's API as that user (their signed principal, so the importer applies its own permission checks)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiohttp
from aio_pika.abc import AbstractRobustConnection

from shared import bus
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 2.0
MAX_METRICS_BYTES = 4 * 1024 * 1024
MAX_IMPORTS_BYTES = 1024 * 1024
# A rate is the change between two samples of the gateway's counters at least this far apart, at most RATE_WINDOW.
MIN_RATE_SPAN_SECONDS = 30.0
RATE_WINDOW_SECONDS = 15 * 60.0
REQUESTS_LINE = re.compile(r'^gateway_requests_total\{[^}]*status="(\d{3})"[^}]*\}\s+([0-9.eE+]+)$', re.MULTILINE)


@dataclass(frozen=True)
class ServiceHealth:
    name: str
    ready: bool
    detail: str


@dataclass(frozen=True)
class RequestRates:
    """Requests answered by the gateway over span_seconds (since it started when no earlier sample is kept)."""

    total: int
    client_errors: int
    server_errors: int
    span_seconds: float | None

    def share(self, count: int) -> float:
        return count / self.total if self.total else 0.0


@dataclass(frozen=True)
class _Sample:
    at: float
    total: int
    client_errors: int
    server_errors: int


def parse_request_totals(metrics_text: str) -> tuple[int, int, int]:
    total = client = server = 0
    for status, value in REQUESTS_LINE.findall(metrics_text):
        count = int(float(value))
        total += count
        if status.startswith("4"):
            client += count
        elif status.startswith("5"):
            server += count
    return total, client, server


class PlatformClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        services: dict[str, str],
        gateway_metrics_url: str,
        importer_url: str,
        signing_key: bytes,
    ) -> None:
        self._session = session
        self._services = services
        self._gateway_metrics_url = gateway_metrics_url
        self._importer_url = importer_url
        self._signing_key = signing_key
        self._samples: deque[_Sample] = deque(maxlen=256)

    async def _readiness(self, name: str, base_url: str) -> ServiceHealth:
        try:
            async with self._session.get(f"{base_url}/readyz", allow_redirects=False) as response:
                body = await response.json(content_type=None) if response.content_length != 0 else {}
                checks = body.get("checks", {}) if isinstance(body, dict) else {}
                failing = [str(check) for check, state in checks.items() if state != "ok"] if checks else []
                if response.status == 200:
                    return ServiceHealth(name, True, "ready")
                return ServiceHealth(name, False, "not ready: " + (", ".join(failing[:5]) or str(response.status)))
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return ServiceHealth(name, False, f"unreachable ({type(error).__name__})")

    async def readiness(self) -> list[ServiceHealth]:
        return list(await asyncio.gather(*(self._readiness(name, url) for name, url in self._services.items())))

    async def request_rates(self) -> RequestRates | None:
        """None when the gateway's metrics cannot be read."""
        try:
            async with self._session.get(f"{self._gateway_metrics_url}/metrics", allow_redirects=False) as response:
                if response.status != 200:
                    return None
                text = (await response.content.read(MAX_METRICS_BYTES)).decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError) as error:
            log.info("gateway metrics unavailable: %s", type(error).__name__)
            return None
        now = time.monotonic()
        sample = _Sample(now, *parse_request_totals(text))
        while self._samples and now - self._samples[0].at > RATE_WINDOW_SECONDS:
            self._samples.popleft()
        base = next((kept for kept in self._samples if now - kept.at >= MIN_RATE_SPAN_SECONDS), None)
        if self._samples and sample.total < self._samples[-1].total:
            self._samples.clear()  # the gateway restarted: its counters began again
            base = None
        self._samples.append(sample)
        if base is None:
            return RequestRates(sample.total, sample.client_errors, sample.server_errors, None)
        return RequestRates(
            sample.total - base.total,
            sample.client_errors - base.client_errors,
            sample.server_errors - base.server_errors,
            now - base.at,
        )

    async def recent_imports(self, principal: Principal, limit: int) -> list[dict[str, Any]] | None:
        """The importer's own answer to GET /api/imports for this user; None when it cannot be read."""
        headers = {PRINCIPAL_HEADER: sign_principal(principal, self._signing_key, "importer")}
        try:
            async with self._session.get(
                f"{self._importer_url}/api/imports", params={"limit": str(limit)}, headers=headers
            ) as response:
                if response.status != 200:
                    return None
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.info("importer unavailable for the dashboard: %s", type(error).__name__)
            return None
        jobs = body.get("value") if isinstance(body, dict) else None
        return [job for job in jobs if isinstance(job, dict)][:limit] if isinstance(jobs, list) else None


async def queue_depths(connection: AbstractRobustConnection, topology: bus.Topology) -> dict[str, int | None]:
    """Messages waiting in each of the platform's queues (None: could not be read)."""
    depths: dict[str, int | None] = {}
    for name in topology.queues:
        try:
            channel = await asyncio.wait_for(connection.channel(), CALL_TIMEOUT_SECONDS)
        except (TimeoutError, OSError, RuntimeError) as error:
            log.info("queue depth unavailable: %s", type(error).__name__)
            return {queue: None for queue in topology.queues}
        try:
            declared = await asyncio.wait_for(channel.declare_queue(name, passive=True), CALL_TIMEOUT_SECONDS)
            depths[name] = declared.declaration_result.message_count
        except Exception as error:  # a passive declare of a missing queue closes the channel; the page says so
            log.info("queue %s depth unavailable: %s", name, type(error).__name__)
            depths[name] = None
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
    return depths
