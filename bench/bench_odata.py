"""Data API benchmark: OData calls and the equivalent Query API call against the same queries written by hand in
asyncpg, on 1,000,000 demo products, in one run. Scenarios (--scenario, default all):

    filter      stock gt 0 and price lt 50, ordered by name, first 100 products, every product field
                (OData, Query API)
    navigation  products whose category/name eq 'Lighting' and stock gt 0, ordered by name, first 100 (a join)
    lambda      orders with items/any(i: i/quantity gt 4), ordered by id, first 100 (a correlated EXISTS)
    expand      orders ordered by id, first 100, $expand=items($expand=product($select=name)) (two levels; the
                hand version is the three statements a programmer would write: orders, their items, the products)

Rows, measured in interleaved rounds, each call one at a time (latency, not throughput) by default:
  (1) hand SQL, asyncpg in process     pool.fetch of the hand-written statement + json.dumps of the rows
  (2) hand SQL behind bare aiohttp     the same in a ~20-line aiohttp handler in its own process: (1) + one HTTP hop
  (3) OData                            GET /odata/<set>?... on the odata service
  (4) Query API (filter scenario)      POST /api/query with products(filter:, order:, limit:) { every field }
(3) and (4) go straight to the odata service with a signed principal (the gateway is bench_gateway.py's subject).
The target is (3) and (4) within 1.3x of hand SQL at p50; the ratio to (2) shows the share the HTTP hop takes.

    .venv/bin/python bench/bench_odata.py [--products 1000000] [--requests 30] [--rounds 30] [--concurrency 1]
                                          [--scenario filter|navigation|lambda|expand]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import aiohttp
import asyncpg
from aiohttp import web
from harness import (
    LOOPBACK,
    BenchError,
    Call,
    LoadResult,
    Platform,
    Service,
    fetch,
    load_average,
    machine_note,
    milliseconds,
    ratio,
    render_table,
    run_load,
)

from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

FIELDS = ("id", "sku", "name", "description", "price", "stock", "category_id", "active", "created_at", "updated_at")
ORDER_FIELDS = ("id", "number", "customer_id", "status", "total", "currency", "placed_at", "created_at", "updated_at")
ITEM_FIELDS = ("id", "order_id", "product_id", "quantity", "unit_price")
QUERY_DOCUMENT = f'products(filter: "stock gt 0 and price lt 50", order: "name", limit: 100) {{ {" ".join(FIELDS)} }}'
SERVE_FLAG = "--serve-hand-sql"
SCRIPT = str(Path(__file__).resolve())
POOL = web.AppKey("pool", asyncpg.Pool)


def odata_path(entity_set: str, **options: str) -> str:
    return f"/odata/{entity_set}?" + "&".join(f"${name}={quote(value, safe='')}" for name, value in options.items())


def json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def rows_json(rows: list[asyncpg.Record]) -> list[dict[str, object]]:
    return [{name: json_value(value) for name, value in row.items()} for row in rows]


async def hand_filter(pool: asyncpg.Pool) -> list[dict[str, object]]:
    sql = f"""SELECT {", ".join(FIELDS)} FROM catalog.products WHERE stock > $1 AND price < $2
              ORDER BY name, id LIMIT $3"""
    return rows_json(await pool.fetch(sql, 0, 50, 100))


async def hand_navigation(pool: asyncpg.Pool) -> list[dict[str, object]]:
    sql = f"""SELECT {", ".join(f"p.{name}" for name in FIELDS)} FROM catalog.products p
              JOIN catalog.categories c ON c.id = p.category_id
              WHERE c.name = $1 AND p.stock > $2 ORDER BY p.name, p.id LIMIT $3"""
    return rows_json(await pool.fetch(sql, "Lighting", 0, 100))


async def hand_lambda(pool: asyncpg.Pool) -> list[dict[str, object]]:
    sql = f"""SELECT {", ".join(ORDER_FIELDS)} FROM catalog.orders o
              WHERE EXISTS (SELECT 1 FROM catalog.order_items i WHERE i.order_id = o.id AND i.quantity > $1)
              ORDER BY o.id LIMIT $2"""
    return rows_json(await pool.fetch(sql, 4, 100))


async def hand_expand(pool: asyncpg.Pool) -> list[dict[str, object]]:
    async with pool.acquire() as conn:
        orders = rows_json(
            await conn.fetch(f"SELECT {', '.join(ORDER_FIELDS)} FROM catalog.orders ORDER BY id LIMIT 100")
        )
        items = rows_json(
            await conn.fetch(
                f"SELECT {', '.join(ITEM_FIELDS)} FROM catalog.order_items"
                " WHERE order_id = ANY($1::bigint[]) ORDER BY id",
                [order["id"] for order in orders],
            )
        )
        names = {
            row["id"]: row["name"]
            for row in await conn.fetch(
                "SELECT id, name FROM catalog.products WHERE id = ANY($1::bigint[])",
                list({item["product_id"] for item in items}),
            )
        }
    by_order: dict[object, list[dict[str, object]]] = {}
    for item in items:
        by_order.setdefault(item["order_id"], []).append({**item, "product": {"name": names[item["product_id"]]}})
    return [{**order, "items": by_order.get(order["id"], [])} for order in orders]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    odata: str
    hand: Callable[[asyncpg.Pool], Awaitable[list[dict[str, object]]]]
    query_api: bool = False  # the filter scenario also runs through the Query API


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "filter",
            "$filter=stock gt 0 and price lt 50 & $orderby=name & $top=100 (all 10 fields)",
            odata_path("products", filter="stock gt 0 and price lt 50", orderby="name", top="100"),
            hand_filter,
            query_api=True,
        ),
        Scenario(
            "navigation",
            "$filter=category/name eq 'Lighting' and stock gt 0 & $orderby=name & $top=100",
            odata_path("products", filter="category/name eq 'Lighting' and stock gt 0", orderby="name", top="100"),
            hand_navigation,
        ),
        Scenario(
            "lambda",
            "orders $filter=items/any(i: i/quantity gt 4) & $orderby=id & $top=100",
            odata_path("orders", filter="items/any(i: i/quantity gt 4)", orderby="id", top="100"),
            hand_lambda,
        ),
        Scenario(
            "expand",
            "orders $orderby=id & $top=100 & $expand=items($expand=product($select=name))",
            odata_path("orders", orderby="id", top="100", expand="items($expand=product($select=name))"),
            hand_expand,
        ),
    )
}


async def hand_answer(pool: asyncpg.Pool, scenario: Scenario) -> bytes:
    return json.dumps({"value": await scenario.hand(pool)}, separators=(",", ":")).encode()


def hand_sql_app(database_url: str) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        scenario = SCENARIOS[request.match_info["scenario"]]
        return web.Response(body=await hand_answer(request.app[POOL], scenario), content_type="application/json")

    async def pool(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
        yield
        await app[POOL].close()

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.cleanup_ctx.append(pool)
    app.router.add_get("/readyz", ready)
    app.router.add_get("/hand/{scenario}", answer)
    return app


def serve_hand_sql() -> None:
    app = hand_sql_app(os.environ["DATABASE_URL"])
    web.run_app(app, host=LOOPBACK, port=int(os.environ["LISTEN_PORT"]), access_log=None, print=None)


def shape(entities: list[dict[str, object]]) -> list[object]:
    """What must agree between hand SQL and the service: the ids, in order, and those of expanded items."""
    return [(entity["id"], [item["id"] for item in entity.get("items", [])]) for entity in entities]  # type: ignore[union-attr]


async def in_process(pool: asyncpg.Pool, scenario: Scenario, label: str, concurrency: int, requests: int) -> LoadResult:
    result = LoadResult(label)
    budget = requests

    async def worker() -> None:
        nonlocal budget
        while budget > 0:
            budget -= 1
            started = time.perf_counter()
            await hand_answer(pool, scenario)
            result.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def signed(signing_key: bytes) -> dict[str, str]:
    principal = Principal(
        user_id=1,
        username="bench",
        is_admin=False,
        permissions=frozenset({"products:read", "categories:read", "orders:read"}),
        credential_kind="api_key",
        credential_id="bench",
    )
    return {PRINCIPAL_HEADER: sign_principal(principal, signing_key, "odata")}


async def measure(args: argparse.Namespace) -> None:
    print(f"bench_odata: {machine_note()}")
    scenarios = [SCENARIOS[name] for name in args.scenario]
    async with Platform(log_level=args.log_level) as platform:
        started = time.perf_counter()
        print(platform.load_demo_data(args.products), f"(wall {time.perf_counter() - started:.1f} s)")
        odata = platform.start("odata")
        hand = platform.start("hand-sql", command=[sys.executable, SCRIPT, SERVE_FLAG])
        await platform.wait_ready(odata, hand)
        key = platform.signing_key_bytes
        pool = await asyncpg.create_pool(platform.database_url, min_size=1, max_size=10)
        try:
            await pool.execute("ANALYZE")
            for scenario in scenarios:
                await measure_scenario(args, scenario, pool, odata, hand, key)
            load_after = load_average()
        finally:
            await pool.close()
    print(f"load average after the rounds: {load_after}")
    print(f"bench_odata: done; {machine_note()}")


async def measure_scenario(
    args: argparse.Namespace, scenario: Scenario, pool: asyncpg.Pool, odata: Service, hand: Service, key: bytes
) -> None:
    expected = await scenario.hand(pool)

    def calls() -> dict[str, Call]:
        found = {
            "(2) hand SQL behind bare aiohttp": Call("GET", f"{hand.url}/hand/{scenario.name}"),
            f"(3) OData {scenario.name}": Call("GET", odata.url + scenario.odata, signed(key)),
        }
        if scenario.query_api:
            found["(4) Query API POST /api/query"] = Call(
                "POST", f"{odata.url}/api/query", signed(key), {"query": QUERY_DOCUMENT}
            )
        return found

    async with aiohttp.ClientSession() as session:
        # Every variant answers the same entities (and expanded items) before anything is timed.
        for label, call in calls().items():
            answer = await fetch(session, call.method, call.url, headers=call.headers, json=call.json)
            got = answer.get("value") or answer.get("products")
            if shape(got) != shape(expected):
                raise BenchError(f"{scenario.name}: {label} answered other entities than the hand-written SQL")
    if len(expected) != 100:
        raise BenchError(f"{scenario.name}: the query matched {len(expected)} entities, not 100: load more --products")

    labels = ["(1) hand SQL, asyncpg in process", *calls()]
    totals = {label: LoadResult(label) for label in labels}
    servers = {label: hand if label.startswith("(2)") else odata for label in labels[1:]}
    cpu = dict.fromkeys(labels, 0.0)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:

        async def one_round(requests: int, record: bool) -> None:
            before = time.process_time()
            result = await in_process(pool, scenario, labels[0], args.concurrency, requests)
            if record:
                cpu[labels[0]] += time.process_time() - before
                totals[labels[0]].merge(result)
            for label, call in calls().items():
                before = servers[label].cpu_seconds()
                result = await run_load(label, call, concurrency=args.concurrency, requests=requests, session=session)
                if record:
                    cpu[label] += servers[label].cpu_seconds() - before
                    totals[label].merge(result)

        await one_round(args.warmup, record=False)
        for _ in range(args.rounds):
            await one_round(args.requests, record=True)

    hand_sql, hand_http = totals[labels[0]], totals[labels[1]]
    print()
    print(
        f"{args.products:,} products; concurrency {args.concurrency}; {args.rounds} interleaved rounds of "
        f"{args.requests} calls per row after {args.warmup} warm-up calls; service LOG_LEVEL={args.log_level}"
    )
    print(f"scenario {scenario.name}: {scenario.description}")
    rows = []
    for result in totals.values():
        rows.append(
            [
                result.label,
                result.requests,
                f"{result.per_second:,.0f}",
                milliseconds(result.p(0.50)),
                milliseconds(result.p(0.99)),
                ratio(result.p(0.50), hand_sql.p(0.50)),
                ratio(result.p(0.50), hand_http.p(0.50)),
                f"{cpu[result.label] / max(result.requests, 1) * 1e6:,.0f}",
                result.failures,
            ]
        )
    print(
        render_table(
            ["variant", "calls", "calls/s", "p50 ms", "p99 ms", "p50 / (1)", "p50 / (2)", "CPU us/call", "errors"],
            rows,
        )
    )
    print(
        "CPU us/call: CPU time of the process that answers, per call: the bench process itself for (1) (asyncpg "
        "client work and JSON), the bare aiohttp process for (2), the odata service for (3) and (4)"
    )
    for result in totals.values():
        if result.first_failure:
            print(f"  first error of {result.label}: {result.first_failure}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000, help="demo products (default 1000000)")
    parser.add_argument("--requests", type=int, default=30, help="calls per row and round (default 30)")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up calls per row (default 50)")
    parser.add_argument("--concurrency", type=int, default=1, help="calls in flight per row (default 1)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the services (default INFO, as deployed)")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="a scenario to run (repeatable; default all)"
    )
    args = parser.parse_args()
    if not 1000 <= args.products <= 10_000_000:
        parser.error("--products must be 1000..10000000 (fewer leave the query short of 100 matches)")
    if not 1 <= args.requests <= 100_000 or not 1 <= args.rounds <= 1000 or not 1 <= args.warmup <= 10_000:
        parser.error("--requests 1..100000, --rounds 1..1000, --warmup 1..10000")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be 1..64")
    args.scenario = args.scenario or list(SCENARIOS)
    return args


if __name__ == "__main__":
    if sys.argv[1:] == [SERVE_FLAG]:
        serve_hand_sql()
    else:
        try:
            asyncio.run(measure(parse_args()))
        except BenchError as error:
            print(f"bench_odata: {error}", file=sys.stderr)
            raise SystemExit(1) from None
