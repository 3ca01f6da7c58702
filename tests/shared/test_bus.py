from __future__ import annotations

import asyncio

import aio_pika

from shared.bus import Topology, declare_topology, open_connection, open_publisher_channel, publish
from shared.messages import ImportJobRequested


async def test_a_published_job_waits_durably_in_the_jobs_queue(amqp_url: str, bus_prefix: str) -> None:
    topology = Topology(bus_prefix + "-bus")
    async with open_connection(amqp_url) as connection:
        channel = await open_publisher_channel(connection)
        await declare_topology(channel, topology)
        job = ImportJobRequested(job_id="j1", entity="products", mapper_id="m1")
        await publish(channel, topology.imports_exchange, job, routing_key="job")
        queue = await channel.get_queue(topology.imports_queue)
        message = await _get(queue)
        assert message is not None
        assert ImportJobRequested.decode(message.body) == job
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        await message.ack()
        for name in topology.queues:
            await channel.queue_delete(name)
        for name in topology.exchanges:
            await channel.exchange_delete(name)


async def _get(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage | None:
    for _ in range(50):
        message = await queue.get(fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    return None
