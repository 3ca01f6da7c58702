"""The import worker: consumes the durable jobs queue and runs each job (services/importer/importing.py).

Manual acknowledgement only after the job's transaction committed, a bounded prefetch, and the quorum queue's
delivery limit, which sends a job that keeps failing to the dead-letter queue, where this worker marks it failed
so it never looks stuck. On shutdown it stops taking jobs, lets the ones in hand finish within the bound, and
otherwise hands them back (unacknowledged, so RabbitMQ redelivers them and another worker redoes them).

Outages of either server do not lose or double a job:
- PostgreSQL gone (restart, failover): the job's transaction is lost, so the worker keeps the message and runs the
  job again, with back-off, once the database answers. Such faults are not the job's fault, so they do not use up
  the delivery limit meant for jobs that keep killing workers.
- RabbitMQ gone: a job runs in a task of the worker, not in the channel's consumer task (which the channel cancels
  when the connection drops), so it carries on and commits. Its acknowledgement is then lost with the channel;
  the redelivery, on the consumer that the robust connection restores, waits on the job's advisory lock, finds it
  finished and only acknowledges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from services.importer import db
from services.importer.importing import JobOutcome, Progress, run_job
from shared import bus
from shared.messages import ImportJobFinished, ImportJobProgress, ImportJobRequested, MessageError

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0
# While the database is away the worker checks back often, so a restart costs seconds, not minutes; after about
# five minutes it hands the job back (which does count towards the delivery limit).
MAX_RECONNECT_SECONDS = 5.0
MAX_DATABASE_RETRIES = 60
DATABASE_PING_SECONDS = 2.0
PROGRESS_EVERY_SECONDS = 1.0
# Events are informative (the outcome is committed and readable); publishing them must never stall a job.
PROGRESS_PUBLISH_SECONDS = 2.0
ANNOUNCE_PUBLISH_SECONDS = 10.0
# Lost connections, a server shutting down or starting up, deadlocks: worth running the job again as it is.
TRANSIENT_DATABASE_FAULTS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.TransactionRollbackError,
)


def backoff(attempt: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt)


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
        on_job_finished: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.pool = pool
        self.connection = connection
        self.publisher = publisher
        self.topology = topology
        self.prefetch = prefetch
        self.batch_rows = batch_rows
        # (entity, final status, seconds spent), for the job duration metric.
        self.on_job_finished = on_job_finished
        self.in_flight: set[asyncio.Task[object]] = set()
        self._channel: AbstractChannel | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []

    async def start(self) -> None:
        self._channel = await self.connection.channel()
        await self._channel.set_qos(prefetch_count=self.prefetch)
        # Declared on this channel so that the robust connection re-declares them and restores their consumers
        # after a broker restart (a queue merely looked up is not restored).
        await bus.declare_topology(self._channel, self.topology)
        jobs = await self._channel.get_queue(self.topology.imports_queue)
        dead = await self._channel.get_queue(self.topology.imports_dead_queue)
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

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # The channel cancels its consumer tasks when the connection drops; a task of our own outlives that.
        task = asyncio.create_task(work)
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _on_job(self, message: AbstractIncomingMessage) -> None:
        self._spawn(self._handle_job(message))

    async def _handle_job(self, message: AbstractIncomingMessage) -> None:
        try:
            request = ImportJobRequested.decode(message.body)
            job_id = uuid.UUID(request.job_id)
        except (MessageError, ValueError):
            log.warning("dropping a malformed import job message")
            await _settle(message.reject(requeue=False), "reject a malformed message")
            return
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                outcome = await run_job(self.pool, job_id, batch_rows=self.batch_rows, progress=self._progress(job_id))
                break
            except Exception as error:
                # The driver reports a lost connection in several ways (InterfaceError on a closed one, ...), so
                # besides the known classes: any fault while the database does not answer is the outage's.
                outage = isinstance(error, TRANSIENT_DATABASE_FAULTS) or not await self._database_answers()
                if not outage or attempt >= MAX_DATABASE_RETRIES:
                    await self._hand_back(message, job_id, error)
                    return
                delay = min(MAX_RECONNECT_SECONDS, backoff(attempt))
                attempt += 1
                log.warning("import job %s: database gone (%s); again in %.1f s", job_id, type(error).__name__, delay)
                await asyncio.sleep(delay)
        if outcome is None:
            log.warning("import job %s does not exist; dropping its message", job_id)
        else:
            log.info("import job %s %s", job_id, outcome.status)
            if self.on_job_finished is not None:
                self.on_job_finished(request.entity, outcome.status, time.monotonic() - started)
            await self._announce(outcome)
        # When the channel went away meanwhile (broker restart) the acknowledgement is lost; the job is committed,
        # so its redelivery only finds it done.
        await _settle(message.ack(), f"acknowledge import job {job_id}")

    async def _database_answers(self) -> bool:
        try:
            async with asyncio.timeout(DATABASE_PING_SECONDS), self.pool.acquire() as conn:
                await db.ping(conn)
        except Exception:
            return False
        return True

    async def _hand_back(self, message: AbstractIncomingMessage, job_id: uuid.UUID, error: Exception) -> None:
        """Requeue after a back-off that grows with the deliveries; the quorum queue counts them towards its limit."""
        deliveries = int((message.headers or {}).get("x-delivery-count", 0) or 0)
        delay = backoff(deliveries)
        log.warning("import job %s hit %s; handing it back in %.1f s", job_id, type(error).__name__, delay)
        await asyncio.sleep(delay)
        await _settle(message.nack(requeue=True), f"hand back import job {job_id}")

    def _progress(self, job_id: uuid.UUID) -> Progress:
        last = 0.0

        async def report(rows_done: int) -> None:
            nonlocal last
            if time.monotonic() - last < PROGRESS_EVERY_SECONDS:
                return
            last = time.monotonic()
            with contextlib.suppress(Exception):  # progress is informative; the job must not fail for it
                async with asyncio.timeout(PROGRESS_PUBLISH_SECONDS):
                    await bus.publish(
                        self.publisher,
                        self.topology.import_events_exchange,
                        ImportJobProgress(job_id=str(job_id), rows_done=rows_done, rows_total=None),
                    )

        return report

    async def _announce(self, outcome: JobOutcome) -> None:
        try:
            async with asyncio.timeout(ANNOUNCE_PUBLISH_SECONDS):
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
        self._spawn(self._handle_dead_job(message))

    async def _handle_dead_job(self, message: AbstractIncomingMessage) -> None:
        try:
            job_id = uuid.UUID(ImportJobRequested.decode(message.body).job_id)
        except (MessageError, ValueError):
            await _settle(message.ack(), "drop a malformed dead-lettered message")
            return
        try:
            failed = await db.fail_job(
                self.pool, job_id, "the job failed repeatedly (worker crashes or database faults) and was given up"
            )
            job = await db.get_job(self.pool, job_id) if failed else None
        except Exception:
            await asyncio.sleep(1.0)
            await _settle(message.nack(requeue=True), f"hand back dead-lettered job {job_id}")
            return
        if job is not None:
            await self._announce(JobOutcome(job_id, "failed", 0, 0, job["failed"], job["error"]))
        await _settle(message.ack(), f"acknowledge dead-lettered job {job_id}")


async def _settle(outcome: Awaitable[object], what: str) -> None:
    """Acknowledge, reject or hand back; a channel lost meanwhile makes RabbitMQ redeliver, which is safe."""
    try:
        await outcome
    except Exception as error:
        log.warning("could not %s: %s", what, type(error).__name__)
