"""Webhooks benchmark: deliveries per second to a local receiver, and the latency from an import's commit to its
import.completed arriving, beside a bare aiohttp POST loop.

Side by side in one run, rounds interleaved:
  (a) bare aiohttp POST loop: the same signed-size JSON body POSTed to the same receiver at the same concurrency,
      nothing else (no bus, no database): the ceiling of this machine for "an HTTP POST to a local receiver";
  (b) webhooks service: N platform events published on the bus (as the auth service's outbox does), each taken
      in, stored, fanned out to one subscription and delivered signed by the real service process; timed from the
      first publish to the last delivery received; latency per delivery from its event's publish to its arrival;
  (c) import to import.completed: small imports, one at a time, through the real importer process; latency from
      the importer's end-of-job message (published right after the job's commit) to the webhook's arrival.
Not a test: it prints a table.

    .venv/bin/python bench/bench_webhooks.py [--events 2000] [--concurrency 32] [--rounds 2] [--imports 20]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import secrets
import sys
import time
import uuid

import aio_pika
import aiohttp
import asyncpg
from aiohttp import web
from harness import LOOPBACK, LoadResult, Platform, free_port, machine_note, milliseconds, ratio, render_table

from shared import bus
from shared.platform_events import ApiKeyCreated, new_event_id, now_iso
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

MAPPER = {
    "id": "bench-webhooks",
    "entity": "products",
    "definition": {
        "delimiter": ",",
        "key": "sku",
        "columns": [
            {"column": "sku", "field": "sku"},
            {"column": "name", "field": "name"},
            {"column": "price", "field": "price"},
        ],
    },
}
DELIVERY_TIMEOUT_SECONDS = 300.0


class Receiver:
    """Counts arrivals and notes when each one came, by the id the bench gave its event."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.perf_counter()
        data = json.loads(body)["data"]
        self.arrived.setdefault(data.get("key_id") or data.get("job_id") or "", now)
        self.changed.set()
        return web.Response(status=204)

    async def wait_for(self, ids: set[str]) -> None:
        async with asyncio.timeout(DELIVERY_TIMEOUT_SECONDS):
            while not ids <= self.arrived.keys():
                self.changed.clear()
                await self.changed.wait()


async def bare_loop(url: str, body: bytes, count: int, concurrency: int) -> LoadResult:
    result = LoadResult("(a) bare aiohttp POST loop")
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg_bench",
        "webhook-timestamp": "0",
        "webhook-signature": "v1,bench",
    }
    remaining = count
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                if answer.status == 204:
                    result.latencies.append(time.perf_counter() - started)
                else:
                    result.failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


async def webhooks_round(
    platform: Platform, channel: aio_pika.abc.AbstractChannel, receiver: Receiver, user_id: int, count: int
) -> LoadResult:
    result = LoadResult("(b) webhooks service")
    published: dict[str, float] = {}
    exchange = bus.Topology(platform.bus_prefix).platform_events_exchange
    events = [
        ApiKeyCreated(
            event_id=new_event_id(),
            occurred_at=now_iso(),
            key_id=uuid.uuid4().hex,
            user_id=user_id,
            name="bench",
            prefix="cap_bench",
        )
        for _ in range(count)
    ]
    started = time.perf_counter()
    for event in events:
        published[event.key_id] = time.perf_counter()
        await bus.publish(channel, exchange, event)
    await receiver.wait_for(set(published))
    result.seconds = time.perf_counter() - started
    result.latencies = [receiver.arrived[key] - at for key, at in published.items()]
    return result


async def import_latencies(
    platform: Platform, importer_url: str, headers: dict[str, str], receiver: Receiver, count: int
) -> LoadResult:
    """Each import's end-of-job message, seen on the bus, to its import.completed at the receiver."""
    result = LoadResult("(c) import commit to import.completed")
    finished: dict[str, float] = {}
    connection = await aio_pika.connect(platform.env["AMQP_URL"])
    async with connection, aiohttp.ClientSession() as session:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(bus.Topology(platform.bus_prefix).import_events_exchange)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            if message.type == "import.finished":
                finished.setdefault(json.loads(message.body)["job_id"], time.perf_counter())

        await queue.consume(on_message, no_ack=True)
        started = time.perf_counter()
        for _ in range(count):
            tag = secrets.token_hex(4)
            csv = "sku,name,price\n" + "".join(f"WH-{tag}-{n},Row {n},{n}.50\n" for n in range(10))
            form = aiohttp.FormData()
            form.add_field("file", io.BytesIO(csv.encode()), filename="bench.csv", content_type="text/csv")
            form.add_field("entity", "products")
            form.add_field("mapperId", MAPPER["id"])
            async with session.post(f"{importer_url}/api/import", data=form, headers=headers) as answer:
                job_id = (await answer.json())["id"]
            await receiver.wait_for({job_id})
            result.latencies.append(receiver.arrived[job_id] - finished[job_id])
        result.seconds = time.perf_counter() - started
    return result


async def main(arguments: argparse.Namespace) -> None:
    print(machine_note())
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOOPBACK, port).start()
    hook = f"http://{LOOPBACK}:{port}/hook"
    async with Platform(log_level="WARNING") as platform:
        platform.cli("services.auth.cli", "create-admin", "--username", "admin", "--if-missing")
        auth = platform.start("auth")
        await platform.wait_ready(auth)
        importer = platform.start("importer", extra_env={"IMPORT_WAIT_SECONDS": "0"})
        webhooks = platform.start(
            "webhooks",
            extra_env={
                "AUTH_URL": auth.url,
                "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
                "WEBHOOKS_CONCURRENCY": str(arguments.concurrency),
            },
        )
        await platform.wait_ready(importer, webhooks)
        conn = await asyncpg.connect(platform.database_url)
        user_id = await conn.fetchval("SELECT id FROM auth.users WHERE username = 'admin'")
        await conn.close()
        admin = Principal(
            user_id=user_id,
            username="admin",
            is_admin=True,
            permissions=frozenset(
                {
                    "webhooks:create",
                    "imports:create",
                    "imports:read",
                    "mappers:create",
                    "products:create",
                    "products:update",
                }
            ),
            credential_kind="api_key",
            credential_id="bench",
        )
        headers = {PRINCIPAL_HEADER: sign_principal(admin, platform.signing_key_bytes, "webhooks")}
        async with aiohttp.ClientSession() as session:
            body = {"url": hook, "events": ["api_key.created", "import.completed"]}
            async with session.post(f"{webhooks.url}/api/webhooks", json=body, headers=headers) as answer:
                assert answer.status == 201, await answer.text()
            async with session.post(f"{importer.url}/api/mappers", json=MAPPER, headers=headers) as answer:
                assert answer.status == 201, await answer.text()
        sample = json.dumps(
            {
                "type": "api_key.created",
                "timestamp": now_iso(),
                "data": {
                    "key_id": uuid.uuid4().hex,
                    "user_id": user_id,
                    "name": "bench",
                    "prefix": "cap_bench",
                    "expires_at": None,
                    "rotated_from": None,
                },
            }
        ).encode()
        bare = LoadResult("(a) bare aiohttp POST loop")
        service = LoadResult("(b) webhooks service")
        async with bus.open_connection(platform.env["AMQP_URL"]) as connection:
            channel = await bus.open_publisher_channel(connection)
            await webhooks_round(platform, channel, receiver, user_id, min(200, arguments.events))  # warm-up
            for _ in range(arguments.rounds):
                bare.merge(await bare_loop(hook, sample, arguments.events, arguments.concurrency))
                service.merge(await webhooks_round(platform, channel, receiver, user_id, arguments.events))
        imports = await import_latencies(platform, importer.url, headers, receiver, arguments.imports)
        webhooks_cpu = webhooks.cpu_seconds()
    await runner.cleanup()
    rows = [
        [
            bare.label,
            bare.requests,
            f"{bare.per_second:,.0f}",
            milliseconds(bare.p(0.5)),
            milliseconds(bare.p(0.99)),
            "1.00x",
        ],
        [
            service.label,
            service.requests,
            f"{service.per_second:,.0f}",
            milliseconds(service.p(0.5)),
            milliseconds(service.p(0.99)),
            ratio(service.per_second, bare.per_second),
        ],
        [imports.label, imports.requests, "", milliseconds(imports.p(0.5)), milliseconds(imports.p(0.99)), ""],
    ]
    print(render_table(["path", "deliveries", "per second", "p50 ms", "p99 ms", "vs (a)"], rows))
    print(
        f"webhooks service CPU: {webhooks_cpu:.1f} s in all "
        f"({webhooks_cpu / max(1, service.requests + imports.requests) * 1000:.2f} ms per delivery, warm-up included)"
    )
    print(machine_note())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per round (default 2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="deliveries in flight (default 32)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    parser.add_argument("--imports", type=int, default=20, help="imports timed one at a time (default 20)")
    args = parser.parse_args()
    if not (1 <= args.events <= 100_000 and 1 <= args.concurrency <= 1000 and 1 <= args.rounds <= 20):
        sys.exit("--events 1..100000, --concurrency 1..1000, --rounds 1..20")
    asyncio.run(main(args))
