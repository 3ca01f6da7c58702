"""Making the attempts: one DeliveryDue message is one attempt.

The message is acknowledged only after the attempt is recorded (or found to be one recorded already), so a
deliverer killed at any point loses nothing: RabbitMQ hands the message to another consumer, which makes the attempt
(again, at worst: at least once, always with the same webhook-id). A failed attempt schedules the next through a
delay queue (services/webhooks/queues.py); the last one of the schedule marks the delivery failed. A run of failed
attempts (WEBHOOKS_DISABLE_AFTER_FAILURES in a row) disables the subscription with the reason shown to its owner.
Before sending, the owner's right to see the event is checked again: a refused delivery is logged, never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from services.webhooks import db
from services.webhooks.intake import take_event
from services.webhooks.owners import OwnerDirectory, OwnerLookupFailed, refusal
from services.webhooks.queues import DeliveryDue, declare_webhooks_topology, publish_due
from services.webhooks.sender import AttemptResult, WebhookSender
from services.webhooks.signing import SecretCipher
from shared.bus import Topology
from shared.messages import MessageError
from shared.platform_events import decode_event

log = logging.getLogger(__name__)

FAULT_BACKOFF_SECONDS = 1.0
MAX_FAULT_BACKOFF_SECONDS = 10.0


@dataclass(frozen=True)
class DeliverySettings:
    schedule: tuple[float, ...]
    jitter: float
    disable_after_failures: int
    concurrency: int


class Deliverer:
    """Consumes the events queue (intake) and the deliveries queue (attempts) of one replica."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        connection: AbstractRobustConnection,
        topology: Topology,
        owners: OwnerDirectory,
        sender: WebhookSender,
        cipher: SecretCipher,
        settings: DeliverySettings,
    ) -> None:
        self.pool = pool
        self.connection = connection
        self.topology = topology
        self.owners = owners
        self.sender = sender
        self.cipher = cipher
        self.settings = settings
        self.in_flight: set[asyncio.Task[None]] = set()
        self._channel: AbstractChannel | None = None
        self._publisher: AbstractChannel | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []

    async def start(self) -> None:
        self._publisher = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self._channel = await self.connection.channel()
        await self._channel.set_qos(prefetch_count=self.settings.concurrency)
        # Declared on the consuming channel, so the robust connection re-declares them after a broker restart.
        await declare_webhooks_topology(self._channel, self.topology, self.settings.schedule, self.settings.jitter)
        events = await self._channel.get_queue(self.topology.webhooks_events_queue)
        deliveries = await self._channel.get_queue(self.topology.webhooks_deliveries_queue)
        self._consumers.append((events, await events.consume(self._on_event)))
        self._consumers.append((deliveries, await deliveries.consume(self._on_due)))

    async def stop(self, timeout: float) -> None:
        for queue, tag in self._consumers:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        self._consumers.clear()
        if self.in_flight:
            _, pending = await asyncio.wait(set(self.in_flight), timeout=timeout)
            for task in pending:
                task.cancel()  # unacknowledged: RabbitMQ hands the message to another replica
            if pending:
                await asyncio.wait(pending, timeout=5)
        for channel in (self._channel, self._publisher):
            if channel is not None:
                with contextlib.suppress(Exception):
                    await channel.close()

    @property
    def publisher(self) -> AbstractChannel:
        assert self._publisher is not None
        return self._publisher

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # The channel cancels its consumer tasks when the connection drops; a task of our own finishes its attempt.
        task = asyncio.create_task(work)
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    # --- events ------------------------------------------------------------------------------------------------

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        self._spawn(self._handle_event(message))

    async def _handle_event(self, message: AbstractIncomingMessage) -> None:
        try:
            event = decode_event(message.body, message.type)
        except MessageError:
            # The import events exchange also carries the importer's progress and end messages for its own waiters.
            await _settle(message.ack(), "skip a message that is no platform event")
            return
        try:
            await take_event(self.pool, self.owners, self.publisher, self.topology, event)
        except Exception as error:
            await self._hand_back(message, f"event {event.event_id}", error)
            return
        await _settle(message.ack(), f"acknowledge event {event.event_id}")

    # --- attempts ----------------------------------------------------------------------------------------------

    async def _on_due(self, message: AbstractIncomingMessage) -> None:
        self._spawn(self._handle_due(message))

    async def _handle_due(self, message: AbstractIncomingMessage) -> None:
        try:
            due = DeliveryDue.decode(message.body)
        except MessageError:
            await _settle(message.reject(requeue=False), "drop a malformed delivery message")
            return
        try:
            await self.attempt(due)
        except Exception as error:
            await self._hand_back(message, f"delivery {due.delivery_id}", error)
            return
        await _settle(message.ack(), f"acknowledge delivery {due.delivery_id}")

    async def attempt(self, due: DeliveryDue) -> None:
        async with self.pool.acquire() as conn:
            row = await db.delivery_for_attempt(conn, due.delivery_id)
        if row is None or row["status"] != "pending" or row["attempts"] != due.attempt - 1:
            return  # the subscription was deleted, or this attempt was made already (a repeated message)
        started = datetime.now(UTC)
        reason = await self._refusal(row)
        if reason is not None:
            await self._record(row, due.attempt, started, AttemptResult(False, None, 0, reason, None), refused=True)
            return
        secret = self.cipher.decrypt(bytes(row["secret_encrypted"]), str(row["subscription_id"]))
        if secret is None:
            result = AttemptResult(False, None, 0, "the signing secret cannot be decrypted; rotate it", None)
        else:
            result = await self.sender.send(row["url"], secret, row["id"], row["payload"].encode())
        await self._record(row, due.attempt, started, result, refused=False)

    async def _refusal(self, row: asyncpg.Record) -> str | None:
        if not row["active"]:
            return "the subscription is disabled"
        try:
            owner = await self.owners.access(row["owner_user_id"])
        except OwnerLookupFailed:
            raise
        audience = row["audience"]
        return refusal(owner, row["permission"], tuple(audience) if audience is not None else None)

    async def _record(
        self, row: asyncpg.Record, attempt: int, started: datetime, result: AttemptResult, *, refused: bool
    ) -> None:
        schedule = self.settings.schedule
        retry_in = schedule[attempt - 1] if not result.succeeded and not refused and attempt <= len(schedule) else None
        if result.succeeded:
            status = "succeeded"
        elif refused:
            status = "refused"
        else:
            status = "pending" if retry_in is not None else "failed"
        next_at = started + timedelta(seconds=retry_in) if retry_in is not None else None
        outcome = "succeeded" if result.succeeded else "refused" if refused else "failed"
        async with self.pool.acquire() as conn, conn.transaction():
            if not await db.lock_subscription(conn, row["subscription_id"]):
                return  # deleted meanwhile, with its deliveries
            claimed = await db.claim_attempt(conn, row["id"], attempt, status, next_at, result.error)
            if claimed is None:
                return
            await db.insert_attempt(
                conn,
                row["id"],
                attempt,
                started,
                outcome,
                result.status_code,
                result.duration_ms,
                result.error,
                result.excerpt,
            )
            if result.succeeded:
                await db.reset_failures(conn, row["subscription_id"])
            elif not refused:
                reason = (
                    f"disabled after {self.settings.disable_after_failures} failed attempts in a row; "
                    f"the last: {result.error}"
                )
                if await db.count_failure(conn, row["subscription_id"], self.settings.disable_after_failures, reason):
                    log.warning("subscription %s disabled: %s", row["subscription_id"], reason)
        if retry_in is not None:
            try:
                await publish_due(
                    self.publisher,
                    self.topology,
                    DeliveryDue(delivery_id=row["id"], attempt=attempt + 1),
                    after=retry_in,
                    jitter=self.settings.jitter,
                )
            except Exception as error:  # recorded as pending with its time: the sweeper publishes it later
                log.warning("could not schedule the retry of %s: %s", row["id"], type(error).__name__)

    async def _hand_back(self, message: AbstractIncomingMessage, what: str, error: Exception) -> None:
        """A fault of ours (database, auth service, broker): the message goes back after a pause, nothing is lost."""
        redelivered = 1 if message.redelivered else 0
        delay = min(MAX_FAULT_BACKOFF_SECONDS, FAULT_BACKOFF_SECONDS * (1 + redelivered * 4))
        log.warning("%s: %s; handing it back in %.1f s", what, type(error).__name__, delay)
        await asyncio.sleep(delay)
        await _settle(message.nack(requeue=True), f"hand back {what}")


async def _settle(outcome: Awaitable[object], what: str) -> None:
    """A channel lost meanwhile makes RabbitMQ redeliver, which is safe: attempts are recorded once."""
    try:
        await outcome
    except Exception as error:
        log.warning("could not %s: %s", what, type(error).__name__)
