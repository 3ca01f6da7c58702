"""The importer's own metrics, beside every service's request counts and latency (shared/metrics.py): the depth of
the jobs queue and how long jobs take."""

from __future__ import annotations

from aio_pika.abc import AbstractRobustConnection

from shared.metrics import ServiceMetrics

# An import runs from milliseconds (a few rows) to many minutes (millions).
JOB_DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class ImporterMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._queue_depth = metrics.gauge(
            "importer_queue_depth", "Import jobs waiting in the broker's jobs queue for a worker (read when scraped)."
        )
        self._job_duration = metrics.histogram(
            "importer_job_duration_seconds",
            "Time a worker spent on an import job, by entity and final status.",
            ("entity", "status"),
            buckets=JOB_DURATION_BUCKETS,
        )

    def job_finished(self, entity: str, status: str, seconds: float) -> None:
        self._job_duration.labels(entity, status).observe(seconds)

    async def read_queue_depth(self, connection: AbstractRobustConnection, queue_name: str) -> None:
        # A channel of its own: a passive declare that fails closes its channel, which must not be a worker's.
        async with connection.channel() as channel:
            queue = await channel.declare_queue(queue_name, passive=True)
            self._queue_depth.set(queue.declaration_result.message_count or 0)
