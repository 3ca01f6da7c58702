"""Verification benchmark (issue 3): a credential verified from the gateway's cache against one verified by the
auth service (keyed hash, database look-up), for an API key and for Basic (username + API token).

Rows, per credential kind, side by side in interleaved rounds:
  gateway cache, in process   the gateway's own CredentialVerifier and PrincipalCache (services/gateway), warmed
                              once against the real auth service, then called back to back: the cost of a hit
  gateway, cached             GET /api/me through the gateway (default cache): HTTP, cache hit, forwarding to auth
  gateway, cache off          the same through a second gateway with VERIFY_CACHE_SIZE=0: every request also
                              calls POST /internal/verify
  auth /internal/verify       the uncached verification alone: POST /internal/verify on the auth service, signed
                              as the gateway's service principal, as the gateway sends it

    .venv/bin/python bench/bench_verify.py [--concurrency 32] [--seconds 5] [--rounds 3] [--hits 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time

import aiohttp
from harness import (
    ADMIN_USERNAME,
    LOOPBACK,
    BenchError,
    Call,
    LoadResult,
    Platform,
    Service,
    fetch,
    load_average,
    machine_note,
    render_table,
    run_load,
)

from services.gateway.cache import PrincipalCache
from services.gateway.credentials import Credential
from services.gateway.verification import AuthClient, CredentialVerifier
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

MAX_SECONDS_PER_RUN = 50.0  # a signed principal lives 60 s; each run signs afresh


async def cache_hits(auth: Service, signing_key: bytes, credential: Credential, hits: int) -> LoadResult:
    """The gateway's verifier and cache, in this process: one miss to fill it, then `hits` sequential hits."""
    result = LoadResult("")
    async with aiohttp.ClientSession() as session:
        verifier = CredentialVerifier(
            AuthClient(session, auth.url, signing_key, timeout=5.0), PrincipalCache(10_000, 60.0)
        )
        await verifier.verify(credential, LOOPBACK)
        clock = time.perf_counter
        started = clock()
        for _ in range(hits):
            before = clock()
            await verifier.verify(credential, LOOPBACK)
            result.latencies.append(clock() - before)
        result.seconds = clock() - started
    return result


def verify_call(auth: Service, signing_key: bytes, credential: Credential) -> Call:
    headers = {PRINCIPAL_HEADER: sign_principal(Principal.service("gateway"), signing_key, "auth")}
    return Call("POST", f"{auth.url}/internal/verify", headers, credential.verify_request(LOOPBACK))


async def measure(args: argparse.Namespace) -> None:
    print(f"bench_verify: {machine_note()}")
    async with Platform(log_level=args.log_level) as platform:
        admin_key = platform.create_admin_key()
        api_token = platform.enable_admin_api_token()
        auth = platform.start("auth")
        await platform.wait_ready(auth)
        gateway = platform.start("gateway", extra_env=platform.gateway_env(auth, None), label="gateway")
        uncached_gateway = platform.start(
            "gateway", extra_env=platform.gateway_env(auth, None, VERIFY_CACHE_SIZE="0"), label="gateway-nocache"
        )
        await platform.wait_ready(gateway, uncached_gateway)
        key = platform.signing_key_bytes

        basic = base64.b64encode(f"{ADMIN_USERNAME}:{api_token}".encode()).decode()
        kinds = {
            "API key": (Credential("api_key", admin_key), {"X-API-Key": admin_key}),
            "Basic": (Credential("basic", api_token, ADMIN_USERNAME), {"Authorization": f"Basic {basic}"}),
        }
        http_rows: dict[str, Call] = {}
        labels: list[str] = []
        for kind, (_credential, headers) in kinds.items():
            labels.append(f"{kind}: gateway cache, in process")
            http_rows[f"{kind}: gateway, cached (GET /api/me)"] = Call("GET", f"{gateway.url}/api/me", headers)
            http_rows[f"{kind}: gateway, cache off (GET /api/me)"] = Call(
                "GET", f"{uncached_gateway.url}/api/me", headers
            )
            labels.extend(list(http_rows)[-2:])
            labels.append(f"{kind}: auth /internal/verify (uncached)")

        async with aiohttp.ClientSession() as session:
            for call in http_rows.values():
                await fetch(session, call.method, call.url, headers=call.headers)
            for credential, _ in kinds.values():
                call = verify_call(auth, key, credential)
                await fetch(session, call.method, call.url, headers=call.headers, json=call.json)

        totals = {label: LoadResult(label) for label in labels}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:

            async def one_round(seconds: float, hits: int) -> dict[str, LoadResult]:
                results = {}
                for kind, (credential, _) in kinds.items():
                    results[f"{kind}: gateway cache, in process"] = await cache_hits(auth, key, credential, hits)
                    for label in [label for label in labels if label.startswith(f"{kind}:") and label not in results]:
                        call = http_rows.get(label) or verify_call(auth, key, credential)
                        results[label] = await run_load(
                            label, call, concurrency=args.concurrency, seconds=seconds, session=session
                        )
                return results

            if args.warmup > 0:
                await one_round(args.warmup, min(args.hits, 10_000))
            for _ in range(args.rounds):
                for label, result in (await one_round(args.seconds, args.hits)).items():
                    totals[label].merge(result)
            load_after = load_average()

    print()
    print(
        f"Verifications: HTTP rows at concurrency {args.concurrency}, {args.rounds} interleaved rounds of "
        f"{args.seconds:g} s each after a {args.warmup:g} s warm-up; in-process rows: {args.hits} sequential cache "
        f"hits per round; service LOG_LEVEL={args.log_level}"
    )
    print(
        render_table(
            ["credential: path", "verifications", "verifications/s", "p50 ms", "p99 ms", "errors"],
            [result.row() for result in totals.values()],
        )
    )
    for result in totals.values():
        if result.first_failure:
            print(f"  first error of {result.label}: {result.first_failure}")
    print("p50/p99 of the in-process rows are per call (one at a time); of the HTTP rows, per request under load.")
    print(f"load average after the rounds: {load_after}")
    print(f"bench_verify: done; {machine_note()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent client connections (default 32)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per HTTP row and round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per HTTP row (default 2)")
    parser.add_argument("--hits", type=int, default=200_000, help="in-process cache hits per round (default 200000)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the services (default INFO, as deployed)")
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS_PER_RUN or not 0 <= args.warmup <= MAX_SECONDS_PER_RUN:
        parser.error(f"--seconds and --warmup must be at most {MAX_SECONDS_PER_RUN:g}")
    if not 1 <= args.rounds <= 100 or not 1 <= args.hits <= 10_000_000:
        parser.error("--rounds 1..100, --hits 1..10000000")
    return args


if __name__ == "__main__":
    try:
        asyncio.run(measure(parse_args()))
    except BenchError as error:
        print(f"bench_verify: {error}", file=sys.stderr)
        raise SystemExit(1) from None
