"""The webhooks service's RabbitMQ topology, and the one message it sends itself: "this delivery is due".

- `<prefix>.webhooks.events`: a durable quorum queue bound to the import events and platform events exchanges;
  every replica consumes it, each event is taken by one of them (services/webhooks/intake.py).
- `<prefix>.webhooks.deliveries` (exchange and quorum queue): DeliveryDue messages, one per attempt to make
  (services/webhooks/deliverer.py).
- `<prefix>.webhooks.retry.<ms>ms`: one durable delay queue per delay of WEBHOOKS_RETRY_SCHEDULE, named by its TTL
  (the delay plus the jitter's upper bound, so a changed schedule or jitter declares new queues instead of clashing
  with the old ones' arguments), with the deliveries exchange as dead-letter exchange. Nothing consumes it: a
  message sits there until it expires and RabbitMQ moves it back to the deliveries queue. Jitter is a per-message
  expiration at most the queue's TTL; since RabbitMQ expires messages from the head of a queue, one may wait behind
  an earlier message of the same queue by at most the jitter's spread.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import ClassVar

import aio_pika
from aio_pika.abc import AbstractChannel

from shared.bus import Topology
from shared.messages import Message

DELIVER_ROUTING_KEY = "deliver"


@dataclass(frozen=True)
class DeliveryDue(Message):
    """Attempt number `attempt` of a delivery is due (its webhook-id is delivery_id)."""

    KIND: ClassVar[str] = "webhooks.delivery_due"
    delivery_id: str
    attempt: int


def delay_ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def queue_ttl_ms(seconds: float, jitter: float) -> int:
    return math.ceil(seconds * 1000 * (1 + jitter))


async def declare_webhooks_topology(
    channel: AbstractChannel, topology: Topology, schedule: tuple[float, ...], jitter: float
) -> None:
    """Idempotent; every replica declares it at start-up."""
    imports = await channel.declare_exchange(
        topology.import_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    platform = await channel.declare_exchange(
        topology.platform_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    events = await channel.declare_queue(
        topology.webhooks_events_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await events.bind(imports)
    await events.bind(platform)
    deliveries_exchange = await channel.declare_exchange(
        topology.webhooks_deliveries_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    deliveries = await channel.declare_queue(
        topology.webhooks_deliveries_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await deliveries.bind(deliveries_exchange, routing_key=DELIVER_ROUTING_KEY)
    for seconds in sorted(set(schedule)):
        await channel.declare_queue(
            topology.webhooks_retry_queue(queue_ttl_ms(seconds, jitter)),
            durable=True,
            arguments={
                "x-message-ttl": queue_ttl_ms(seconds, jitter),
                "x-dead-letter-exchange": topology.webhooks_deliveries_exchange,
                "x-dead-letter-routing-key": DELIVER_ROUTING_KEY,
            },
        )


def retry_queues(topology: Topology, schedule: tuple[float, ...], jitter: float) -> list[str]:
    return [topology.webhooks_retry_queue(queue_ttl_ms(seconds, jitter)) for seconds in sorted(set(schedule))]


async def publish_due(
    channel: AbstractChannel,
    topology: Topology,
    due: DeliveryDue,
    *,
    after: float | None = None,
    jitter: float = 0.0,
) -> None:
    """Now (after=None), or after that many seconds (one of the schedule's delays) give or take the jitter."""
    message = aio_pika.Message(
        body=due.encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        type=due.KIND,
        expiration=None if after is None else delay_ms(after * (1 + random.uniform(-jitter, jitter))) / 1000,  # noqa: S311
    )
    if after is None:
        exchange = await channel.get_exchange(topology.webhooks_deliveries_exchange, ensure=False)
        await exchange.publish(message, routing_key=DELIVER_ROUTING_KEY, mandatory=True)
    else:
        await channel.default_exchange.publish(
            message, routing_key=topology.webhooks_retry_queue(queue_ttl_ms(after, jitter)), mandatory=True
        )
