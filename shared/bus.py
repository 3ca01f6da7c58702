"""RabbitMQ: the robust connection, the topology's names in one place, and publishing with broker confirms."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from shared.messages import Message

log = logging.getLogger(__name__)

# Jobs redelivered this many times (worker crashes, poison messages) go to the dead-letter queue.
IMPORT_DELIVERY_LIMIT = 5


@dataclass(frozen=True)
class Topology:
    """Every exchange and queue name, derived from one prefix (so test runs and deployments never collide)."""

    prefix: str

    @property
    def imports_exchange(self) -> str:
        return f"{self.prefix}.imports"

    @property
    def imports_queue(self) -> str:
        return f"{self.prefix}.imports.jobs"

    @property
    def imports_dead_exchange(self) -> str:
        return f"{self.prefix}.imports.dead"

    @property
    def imports_dead_queue(self) -> str:
        return f"{self.prefix}.imports.dead"

    @property
    def import_events_exchange(self) -> str:
        return f"{self.prefix}.imports.events"

    @property
    def auth_events_exchange(self) -> str:
        return f"{self.prefix}.auth.events"

    @property
    def platform_events_exchange(self) -> str:
        """Fanout of the platform events for webhook subscribers that are not import events (shared.platform_events);
        apart from auth.events so that gateways never see them."""
        return f"{self.prefix}.platform.events"

    @property
    def webhooks_events_queue(self) -> str:
        return f"{self.prefix}.webhooks.events"

    @property
    def webhooks_deliveries_exchange(self) -> str:
        return f"{self.prefix}.webhooks.deliveries"

    @property
    def webhooks_deliveries_queue(self) -> str:
        return f"{self.prefix}.webhooks.deliveries"

    def webhooks_retry_queue(self, ttl_ms: int) -> str:
        """One delay queue per retry delay (named by its TTL, so a changed schedule never clashes with an old queue)."""
        return f"{self.prefix}.webhooks.retry.{ttl_ms}ms"

    @property
    def exchanges(self) -> tuple[str, ...]:
        return (
            self.imports_exchange,
            self.imports_dead_exchange,
            self.import_events_exchange,
            self.auth_events_exchange,
            self.platform_events_exchange,
            self.webhooks_deliveries_exchange,
        )

    @property
    def queues(self) -> tuple[str, ...]:
        return (self.imports_queue, self.imports_dead_queue, self.webhooks_events_queue, self.webhooks_deliveries_queue)


async def connect(url: str) -> AbstractRobustConnection:
    """A connection that reconnects by itself and re-declares what was declared on it."""
    return await aio_pika.connect_robust(url, client_properties={"connection_name": "platform"})


@asynccontextmanager
async def open_connection(url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(url)
    try:
        yield connection
    finally:
        await connection.close()


async def open_publisher_channel(connection: AbstractRobustConnection) -> AbstractChannel:
    """A channel whose publishes wait for the broker's confirm and fail when a message cannot be routed."""
    return await connection.channel(publisher_confirms=True, on_return_raises=True)


async def declare_topology(channel: AbstractChannel, topology: Topology) -> None:
    """Declare the durable exchanges and queues; idempotent, so every service may call it at start-up."""
    imports = await channel.declare_exchange(topology.imports_exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    dead = await channel.declare_exchange(topology.imports_dead_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    await channel.declare_exchange(topology.import_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    await channel.declare_exchange(topology.auth_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    await channel.declare_exchange(topology.platform_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    # A quorum queue survives a broker restart with its messages and counts redeliveries itself,
    # so a job that keeps killing workers is dead-lettered instead of looping forever.
    jobs = await channel.declare_queue(
        topology.imports_queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": IMPORT_DELIVERY_LIMIT,
            "x-dead-letter-exchange": topology.imports_dead_exchange,
        },
    )
    await jobs.bind(imports, routing_key="job")
    dead_queue = await channel.declare_queue(topology.imports_dead_queue, durable=True)
    await dead_queue.bind(dead)


async def publish(channel: AbstractChannel, exchange_name: str, message: Message, routing_key: str = "") -> None:
    """Publish a persistent message and return only once the broker has confirmed it."""
    exchange: AbstractExchange = await channel.get_exchange(exchange_name, ensure=False)
    await exchange.publish(
        aio_pika.Message(
            body=message.encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=message.KIND,
        ),
        routing_key=routing_key,
        mandatory=bool(routing_key),
    )


async def delete_topology(channel: AbstractChannel, topology: Topology) -> None:
    """Remove everything a prefix declared (used by tests to clean up after a run)."""
    for queue in topology.queues:
        await channel.queue_delete(queue)
    for exchange in topology.exchanges:
        await channel.exchange_delete(exchange)
