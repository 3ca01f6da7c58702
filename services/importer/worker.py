"""The import worker: consumes the durable jobs queue and runs each job (services/importer/importing.py).

Manual acknowledgement only after the job's transaction committed, a bounded prefetch, back-off before handing a
job back after a transient fault (lost database connection), and the quorum queue's delivery limit then sends a
job that keeps failing to the dead-letter queue, where this worker marks it failed so it never looks stuck.
On shutdown it stops taking jobs, lets the ones in hand finish within the bound, and otherwise hands them back
(unacknowledged, so RabbitMQ redelivers them and another worker redoes them from the start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from services.importer import db
from services.importer.importing import JobOutcome, Progress, run_job
from shared import bus
from shared.messages import ImportJobFinished, ImportJobProgress, ImportJobRequested, MessageError

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0
PROGRESS_EVERY_SECONDS = 1.0


class ImportWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        connection: AbstractRobustConnection,
        publisher: AbstractChannel,
        topology: bus.Topology,
        *,
        prefetch: int,
        batch_rows: int,
    ) -> None:
        self.pool = pool
        self.connection = connection
        self.publisher = publisher
        self.topology = topology
        self.prefetch = prefetch
        self.batch_rows = batch_rows
        self.in_flight: set[asyncio.Task[object]] = set()
        self._channel: AbstractChannel | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []

    async def start(self) -> None:
        self._channel = await self.connection.channel()
        await self._channel.set_qos(prefetch_count=self.prefetch)
        jobs = await self._channel.get_queue(self.topology.imports_queue, ensure=False)
        dead = await self._channel.get_queue(self.topology.imports_dead_queue, ensure=False)
        self._consumers.append((jobs, await jobs.consume(self._on_job)))
        self._consumers.append((dead, await dead.consume(self._on_dead_job)))

    async def stop(self, timeout: float) -> None:
        for queue, tag in self._consumers:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        self._consumers.clear()
        if self.in_flight:
            log.info("waiting up to %.0f s for %d import job(s) in hand", timeout, len(self.in_flight))
            _, pending = await asyncio.wait(set(self.in_flight), timeout=timeout)
            for task in pending:
                # Its transaction rolls back and its message stays unacknowledged: RabbitMQ redelivers it.
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def _on_job(self, message: AbstractIncomingMessage) -> None:
        self._track()
        try:
            request = ImportJobRequested.decode(message.body)
            job_id = uuid.UUID(request.job_id)
        except (MessageError, ValueError):
            log.warning("dropping a malformed import job message")
            await message.reject(requeue=False)
            return
        try:
            outcome = await run_job(self.pool, job_id, batch_rows=self.batch_rows, progress=self._progress(job_id))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            deliveries = int((message.headers or {}).get("x-delivery-count", 0) or 0)
            delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**deliveries)
            log.warning("import job %s hit %s; handing it back in %.1f s", job_id, type(error).__name__, delay)
            await asyncio.sleep(delay)
            await message.nack(requeue=True)
            return
        if outcome is None:
            log.warning("import job %s does not exist; dropping its message", job_id)
        else:
            log.info("import job %s %s", job_id, outcome.status)
            await self._announce(outcome)
        try:
            await message.ack()
        except Exception as error:
            # The channel went away (broker restart): the job is committed, so its redelivery only finds it done.
            log.warning("could not acknowledge import job %s: %s", job_id, type(error).__name__)

    def _progress(self, job_id: uuid.UUID) -> Progress:
        last = 0.0

        async def report(rows_done: int) -> None:
            nonlocal last
            if time.monotonic() - last < PROGRESS_EVERY_SECONDS:
                return
            last = time.monotonic()
            with contextlib.suppress(Exception):  # progress is informative; the job must not fail for it
                await bus.publish(
                    self.publisher,
                    self.topology.import_events_exchange,
                    ImportJobProgress(job_id=str(job_id), rows_done=rows_done, rows_total=None),
                )

        return report

    async def _announce(self, outcome: JobOutcome) -> None:
        try:
            await bus.publish(
                self.publisher,
                self.topology.import_events_exchange,
                ImportJobFinished(
                    job_id=str(outcome.job_id),
                    status=outcome.status,
                    imported=outcome.imported,
                    updated=outcome.updated,
                    failed=outcome.failed,
                ),
            )
        except Exception as error:
            # The outcome is committed and readable at GET /api/imports/{id}; waiters also poll it.
            log.warning("could not announce the end of import job %s: %s", outcome.job_id, type(error).__name__)

    async def _on_dead_job(self, message: AbstractIncomingMessage) -> None:
        self._track()
        try:
            job_id = uuid.UUID(ImportJobRequested.decode(message.body).job_id)
        except (MessageError, ValueError):
            await message.ack()
            return
        try:
            failed = await db.fail_job(
                self.pool, job_id, "the job failed repeatedly (worker crashes or database faults) and was given up"
            )
        except Exception:
            await asyncio.sleep(1.0)
            await message.nack(requeue=True)
            return
        if failed:
            job = await db.get_job(self.pool, job_id)
            if job is not None:
                await self._announce(JobOutcome(job_id, "failed", 0, 0, job["failed"], job["error"]))
        await message.ack()
