from __future__ import annotations

import secrets
import uuid

from services.importer.metrics import ImporterMetrics
from shared import bus
from shared.messages import ImportJobRequested
from shared.metrics import ServiceMetrics


def _sample(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name))


async def test_the_queue_depth_is_the_number_of_jobs_waiting_in_the_broker(amqp_url: str) -> None:
    topology = bus.Topology(f"test-metrics-{secrets.token_hex(6)}")
    connection = await bus.connect(amqp_url)
    try:
        channel = await bus.open_publisher_channel(connection)
        await bus.declare_topology(channel, topology)
        for _ in range(3):
            job = ImportJobRequested(job_id=str(uuid.uuid4()), entity="products", mapper_id="products-default")
            await bus.publish(channel, topology.imports_exchange, job, routing_key="job")
        metrics = ServiceMetrics("importer")
        importer = ImporterMetrics(metrics)
        await importer.read_queue_depth(connection, topology.imports_queue)
        text = (await metrics.render())[0].decode()
        assert _sample(text, "importer_queue_depth ") == "importer_queue_depth 3.0"
        # The channel that read the depth is closed again; the publisher's is untouched.
        assert not channel.is_closed
    finally:
        await bus.delete_topology(await connection.channel(), topology)
        await connection.close()


async def test_job_durations_are_observed_by_entity_and_status() -> None:
    metrics = ServiceMetrics("importer")
    importer = ImporterMetrics(metrics)
    importer.job_finished("products", "completed", 1.5)
    importer.job_finished("products", "failed", 0.2)
    text = (await metrics.render())[0].decode()
    assert 'importer_job_duration_seconds_count{entity="products",status="completed"} 1.0' in text
    assert 'importer_job_duration_seconds_sum{entity="products",status="failed"} 0.2' in text
