"""Consuming the auth service's revocation events: every gateway replica drops what it cached, at once.

Each replica binds its own exclusive, auto-deleted queue to the fanout exchange, so every replica sees every
event. While the broker connection is down, events may be missed, so the cache is emptied and new answers are
not cached until the connection (with its queue and consumer, restored by the robust connection) is back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection, AbstractRobustQueue

from services.gateway.cache import PrincipalCache
from services.gateway.metrics import GatewayMetrics
from services.gateway.verification import CredentialVerifier
from shared.bus import Topology
from shared.messages import CredentialRevoked, MessageError

log = logging.getLogger(__name__)


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
        self._verifier.cache_enabled = False
        self._cache.clear()

    def on_reconnected(self, *_: Any) -> None:
        log.info("broker connection restored: caching principals again")
        self._cache.clear()
        self._verifier.cache_enabled = True
