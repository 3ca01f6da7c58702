"""Consuming the auth service's revocation events: every gateway replica drops what it cached, at once.

Each replica binds its own exclusive, auto-deleted queue to the fanout exchange, so every replica sees every
event. While the broker connection is down, events may be missed, so the cache is emptied and new answers are
not cached until the connection (with its queue and consumer, restored by the robust connection) is back; JWTs are
not cached answers, so their revocation state is loaded again in full (RevocationSync).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import aiohttp
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection, AbstractRobustQueue

from services.gateway.cache import PrincipalCache
from services.gateway.metrics import GatewayMetrics
from services.gateway.verification import CredentialVerifier
from shared.bus import Topology
from shared.messages import CredentialRevoked, MessageError

log = logging.getLogger(__name__)

RELOAD_RETRY_FIRST_SECONDS = 0.2
RELOAD_RETRY_MAX_SECONDS = 5.0


def apply_revocation(cache: PrincipalCache, event: CredentialRevoked) -> int:
    if event.credential_id is not None:
        return cache.evict_credential(event.credential_id)
    if event.user_id is not None:
        try:
            return cache.evict_user(int(event.user_id))
        except (TypeError, ValueError):
            log.warning("a revocation event has a malformed user id; dropping the whole cache")
            size = len(cache)
            cache.clear()
            return size
    log.warning("a revocation event names neither a credential nor a user; dropping the whole cache")
    size = len(cache)
    cache.clear()
    return size


class RevocationConsumer:
    def __init__(
        self,
        cache: PrincipalCache,
        verifier: CredentialVerifier,
        topology: Topology,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._cache = cache
        self._metrics = metrics
        self._verifier = verifier
        self._topology = topology
        self.queue_name = f"{topology.prefix}.gateway.revocations.{uuid.uuid4().hex[:12]}"
        self._queue: AbstractRobustQueue | None = None
        self.connected = False

    async def start(self, connection: AbstractRobustConnection) -> None:
        connection.close_callbacks.add(self.on_connection_lost)
        connection.reconnect_callbacks.add(self.on_reconnected)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            self._topology.auth_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        await queue.consume(self._on_message)
        self._queue = queue
        self.connected = True

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process(ignore_processed=True):
            try:
                event = CredentialRevoked.decode(message.body)
            except MessageError as error:
                log.warning("ignoring a malformed revocation event: %s", error)
                return
            evicted = apply_revocation(self._cache, event)
            if self._verifier.jwt_verifier is not None:
                # JWTs are verified without the cache; the verifier keeps its own revoked-token list.
                self._verifier.jwt_verifier.handle_revocation(event)
            if self._metrics is not None:
                self._metrics.revocation_applied(event)
            log.info(
                "revocation applied",
                extra={
                    "fields": {
                        "reason": event.reason,
                        "credential_id": event.credential_id,
                        "user_id": event.user_id,
                        "evicted": evicted,
                    }
                },
            )

    def on_connection_lost(self, _sender: Any = None, error: BaseException | None = None) -> None:
        if error is not None and not isinstance(error, asyncio.CancelledError):
            log.warning("lost the broker connection: emptying the principal cache until it is back")
        self.connected = False
        self._verifier.cache_enabled = False
        self._cache.clear()

    def on_reconnected(self, *_: Any) -> None:
        log.info("broker connection restored: caching principals again")
        self._cache.clear()
        self._verifier.cache_enabled = True
        self.connected = True


class RevocationSync:
    """Keeps the JWT revocation state complete: loaded from the auth service when the gateway starts, and again every
    time the broker connection comes back (after the queue is bound again, so nothing falls between the load and
    the events that follow it). A failed load is retried until it succeeds.

    `loaded`: a load has succeeded; `current`: one has succeeded since the connection last came back (readiness)."""

    def __init__(self) -> None:
        self._wanted = asyncio.Event()
        self._wanted.set()
        self._generation = 0
        self._current_generation = -1
        self.loaded = False

    @property
    def current(self) -> bool:
        return self._current_generation == self._generation

    def request_load(self, *_: Any) -> None:
        """Another full load is needed (the broker connection came back)."""
        self._generation += 1
        self._wanted.set()

    def mark_stale(self, *_: Any) -> None:
        """Events may be missed from now on (the broker connection is lost)."""
        self._generation += 1

    async def load_once(self, load: Callable[[], Awaitable[int]]) -> bool:
        generation = self._generation
        try:
            count = await load()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("could not load the revocation list from the auth service: %s", type(error).__name__)
            return False
        self.loaded = True
        self._current_generation = max(self._current_generation, generation)
        if generation == self._generation:
            self._wanted.clear()
        log.info("revocation list loaded", extra={"fields": {"entries": count}})
        return True

    async def run(self, load: Callable[[], Awaitable[int]]) -> None:
        delay = RELOAD_RETRY_FIRST_SECONDS
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            if await self.load_once(load):
                delay = RELOAD_RETRY_FIRST_SECONDS
                continue
            self._wanted.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RELOAD_RETRY_MAX_SECONDS)
