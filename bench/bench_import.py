"""Import benchmark: a large products CSV, from upload to committed rows, beside `psql \\copy`.

Side by side in one run, the same generated file:
  (a) `psql \\copy` into a table shaped like catalog.products (same columns, constraints and indexes): the
      baseline, PostgreSQL's own bulk path with no conversion, no validation and no upsert;
  (b) the full import path: multipart upload through the gateway (X-API-Key, verified by the auth service) to the
      importer's API, which stores it and queues the job over RabbitMQ; a worker process parses, converts and
      validates every row and writes batches into catalog.products (COPY for new keys, a staged UPDATE for
      existing ones), all in one transaction. Timed from the first byte sent to the job's committed "completed".
The importer runs as two processes, an API-only replica and a worker, so each one's peak memory (VmHWM) shows.
Not a test: it prints a table.

    .venv/bin/python bench/bench_import.py [--rows 1000000] [--batch-rows 5000] [--rounds 3]

Uses the PostgreSQL and RabbitMQ of BENCH_POSTGRES_URL / BENCH_AMQP_URL (default: the local ones), in a database
and bus prefix of its own that it removes afterwards; psql must be on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from harness import (
    BenchError,
    Platform,
    Service,
    fetch,
    machine_note,
    render_table,
)

COLUMNS = ("sku", "name", "price", "stock", "description", "active")
MAPPER_ID = "bench-products"
MAPPER = {
    "id": MAPPER_ID,
    "entity": "products",
    "name": "Benchmark products",
    "definition": {
        "delimiter": ",",
        "key": "sku",
        "columns": [{"column": name, "field": name, "required": name == "sku"} for name in COLUMNS],
    },
}
MAX_ROWS = 20_000_000
POLL_SECONDS = 0.2
IMPORT_TIMEOUT_SECONDS = 3600.0
WORDS = ("steel", "oak", "linen", "copper", "wool", "glass", "cedar", "brass", "cotton", "slate")


def generate_csv(path: Path, rows: int) -> int:
    """A products file with realistic variety: quoted names with commas, decimals, booleans."""
    rng = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        lines = []
        for n in range(rows):
            name = f'"{rng.choice(WORDS).title()} {rng.choice(WORDS)}, model {n}"'
            price = f"{rng.randrange(100, 10_000_000) / 100:.2f}"
            description = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(WORDS)} item number {n}"
            active = "true" if n % 7 else "false"
            lines.append(f"BENCH-{n:08d},{name},{price},{rng.randrange(0, 5000)},{description},{active}\n")
            if len(lines) >= 10_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    return path.stat().st_size


def peak_rss_mib(service: Service) -> float:
    """The process's peak resident memory (VmHWM), read before it is stopped."""
    for line in Path(f"/proc/{service.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for {service.name}")


def cpu_seconds(service: Service) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{service.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def psql_copy(platform: Platform, csv_path: Path, rows: int) -> float:
    """Seconds for `psql \\copy` of the file into an empty table shaped like catalog.products."""
    conn = await asyncpg.connect(platform.database_url)
    try:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        await conn.execute("DROP TABLE IF EXISTS bench.products")
        await conn.execute("CREATE TABLE bench.products (LIKE catalog.products INCLUDING ALL)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    command = f"\\copy bench.products ({', '.join(COLUMNS)}) FROM '{csv_path}' WITH (FORMAT csv, HEADER true)"
    started = time.perf_counter()
    result = await asyncio.to_thread(
        subprocess.run,
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", platform.database_url, "-c", command],
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise BenchError(f"psql \\copy failed: {result.stderr.strip()[-500:]}")
    conn = await asyncpg.connect(platform.database_url)
    try:
        copied = await conn.fetchval("SELECT count(*) FROM bench.products")
        await conn.execute("DROP TABLE bench.products")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    if copied != rows:
        raise BenchError(f"psql \\copy loaded {copied} rows, expected {rows}")
    return seconds


async def upload_file(session: aiohttp.ClientSession, gateway: Service, key: str, csv_path: Path) -> str:
    """POST /api/import through the gateway, streaming the file from disk; the queued job's id."""
    with csv_path.open("rb") as file:
        form = aiohttp.FormData()
        form.add_field("file", file, filename=csv_path.name, content_type="text/csv")
        form.add_field("entity", "products")
        form.add_field("mapperId", MAPPER_ID)
        headers = {"X-API-Key": key, "Prefer": "respond-async"}
        async with session.post(f"{gateway.url}/api/import", data=form, headers=headers) as response:
            body = await response.json(content_type=None)
            if response.status != 202:
                raise BenchError(f"the upload answered {response.status}: {str(body)[:300]}")
    return str(body["id"])


@dataclass(frozen=True)
class ImportTiming:
    uploaded: float  # seconds until the upload was stored and queued (202)
    total: float  # seconds until the job was committed as completed


async def full_import(platform: Platform, gateway: Service, key: str, csv_path: Path, rows: int) -> ImportTiming:
    timeout = aiohttp.ClientTimeout(total=IMPORT_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.perf_counter()
        job_id = await upload_file(session, gateway, key, csv_path)
        uploaded = time.perf_counter() - started
        deadline = started + IMPORT_TIMEOUT_SECONDS
        while True:
            job = await fetch(session, "GET", f"{gateway.url}/api/imports/{job_id}", headers={"X-API-Key": key})
            if job["status"] not in ("queued", "running"):
                break
            if time.perf_counter() > deadline:
                raise BenchError(f"the import did not finish in {IMPORT_TIMEOUT_SECONDS:.0f} s")
            await asyncio.sleep(POLL_SECONDS)
        total = time.perf_counter() - started
    if (job["status"], job["imported"], job["failed"]) != ("completed", rows, 0):
        raise BenchError(f"the import ended {job['status']} ({job['imported']} imported, {job['failed']} failed)")
    conn = await asyncpg.connect(platform.database_url)
    try:
        committed = await conn.fetchval("SELECT count(*) FROM catalog.products WHERE sku LIKE 'BENCH-%'")
    finally:
        await conn.close()
    if committed != rows:
        raise BenchError(f"{committed} rows committed, expected {rows}")
    return ImportTiming(uploaded, total)


async def empty_products(platform: Platform) -> None:
    """Each import round starts from an empty catalog table, as each psql round starts from an empty copy of it."""
    conn = await asyncpg.connect(platform.database_url)
    try:
        await conn.execute("TRUNCATE catalog.products CASCADE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def run(rows: int, batch_rows: int, rounds: int) -> None:
    if shutil.which("psql") is None:
        raise BenchError("psql is not on PATH")
    async with Platform(log_level="WARNING") as platform:
        csv_path = platform.workdir / "products.csv"
        started = time.perf_counter()
        size = generate_csv(csv_path, rows)
        print(f"generated {rows:,} rows, {size / 2**20:.1f} MiB in {time.perf_counter() - started:.1f} s", flush=True)
        upload_limit = {"MAX_UPLOAD_BYTES": str(size + 2**20)}
        # Migrations and an admin key first, so the services start on a ready schema.
        key = platform.create_admin_key()
        worker = platform.start(
            "importer", label="importer-worker", extra_env={**upload_limit, "BATCH_ROWS": str(batch_rows)}
        )
        await platform.wait_ready(worker)
        api = platform.start("importer", label="importer-api", extra_env={**upload_limit, "IMPORTER_WORKER": "false"})
        auth = platform.start("auth")
        await platform.wait_ready(api, auth)
        gateway = platform.start(
            "gateway",
            extra_env=platform.gateway_env(
                auth, None, IMPORTER_URL=api.url, MAX_BODY_BYTES=str(size + 2**20), UPSTREAM_TIMEOUT="600"
            ),
        )
        await platform.wait_ready(gateway)
        async with aiohttp.ClientSession() as session:
            await fetch(
                session, "POST", f"{gateway.url}/api/mappers", headers={"X-API-Key": key}, json=MAPPER, expect=201
            )

        copies: list[float] = []
        imports: list[ImportTiming] = []
        worker_cpu = 0.0
        for round_no in range(1, rounds + 1):
            # Alternated, so that a change in the machine's load (other work on it) hits both paths alike.
            print(f"round {round_no}/{rounds}: psql \\copy ...", flush=True)
            copies.append(await psql_copy(platform, csv_path, rows))
            print(f"round {round_no}/{rounds}: the import through the gateway ...", flush=True)
            await empty_products(platform)
            before = cpu_seconds(worker)
            imports.append(await full_import(platform, gateway, key, csv_path, rows))
            worker_cpu = cpu_seconds(worker) - before
        worker_rss, api_rss, gateway_rss = peak_rss_mib(worker), peak_rss_mib(api), peak_rss_mib(gateway)

    copy_seconds = statistics.median(copies)
    import_seconds = statistics.median(timing.total for timing in imports)
    copy_rate, import_rate = rows / copy_seconds, rows / import_seconds
    print()
    print(
        render_table(
            ["path (median of the rounds)", "rows", "seconds", "rows/s", "vs psql \\copy", "each round (s)"],
            [
                [
                    "(a) psql \\copy (baseline)",
                    f"{rows:,}",
                    f"{copy_seconds:.1f}",
                    f"{copy_rate:,.0f}",
                    "1.00x",
                    " ".join(f"{seconds:.1f}" for seconds in copies),
                ],
                [
                    "(b) upload via gateway -> committed rows",
                    f"{rows:,}",
                    f"{import_seconds:.1f}",
                    f"{import_rate:,.0f}",
                    f"{import_rate / copy_rate:.2f}x",
                    " ".join(f"{timing.total:.1f}" for timing in imports),
                ],
                [
                    "    upload stored and queued after",
                    "",
                    f"{statistics.median(timing.uploaded for timing in imports):.1f}",
                    "",
                    "",
                    " ".join(f"{timing.uploaded:.1f}" for timing in imports),
                ],
            ],
        )
    )
    print()
    print(
        render_table(
            ["process", "peak RSS (VmHWM)", "CPU in the last import"],
            [
                ["importer worker", f"{worker_rss:.0f} MiB", f"{worker_cpu:.1f} s"],
                ["importer API (upload)", f"{api_rss:.0f} MiB", ""],
                ["gateway", f"{gateway_rss:.0f} MiB", ""],
            ],
        )
    )
    print()
    print(f"file: {size / 2**20:.1f} MiB; worker BATCH_ROWS={batch_rows}; target: (b) at least 0.50x of (a)")
    print(machine_note())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of (a) and (b); medians are shown")
    args = parser.parse_args()
    if not 1 <= args.rows <= MAX_ROWS:
        parser.error(f"--rows must be 1..{MAX_ROWS}")
    if not 1 <= args.batch_rows <= 1_000_000:
        parser.error("--batch-rows must be 1..1000000")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1..20")
    try:
        asyncio.run(run(args.rows, args.batch_rows, args.rounds))
    except BenchError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
