"""Gateway benchmark (issue 5): what the front door costs, and how fast a revocation reaches it.

Side by side in one run, the same request GET /odata/products?$top=10 at the same concurrency through
  (a) a bare aiohttp reverse proxy (below, ~40 lines: forwards to the odata service with a signed principal),
  (b) the gateway with a cached API key (X-API-Key),
  (c) the gateway with Basic (admin's API token),
  (d) the gateway with a JWT from the client-credentials grant (when the OAuth server answers through the gateway).
Variants run in interleaved rounds after a warm-up, so a change in the machine's load hits them alike. Then the
revocation latency: a fresh key is warmed into the gateway's cache, revoked through the management API, and polled
until the gateway answers 401.

    .venv/bin/python bench/bench_gateway.py [--concurrency 32] [--seconds 4] [--rounds 5] [--trials 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import aiohttp
from aiohttp import web
from harness import (
    ADMIN_USERNAME,
    LOOPBACK,
    BenchError,
    Call,
    LoadResult,
    Platform,
    Service,
    fetch,
    free_port,
    load_average,
    machine_note,
    milliseconds,
    render_table,
    run_load,
)

from services.auth.permissions import ALL_PERMISSIONS
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

PATH = "/odata/products?$top=10"
BARE_PROXY_FLAG = "--serve-bare-proxy"
SCRIPT = str(Path(__file__).resolve())
DROPPED_HEADERS = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "content-length"})
UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)


# ---------------------------------------------------------------------------------------------------------------
# (a) The bare reverse proxy: the least a proxy in front of odata must do (pooled connections, header copy, a
# signed principal so odata answers 200), as the baseline of the gateway's cost.


def bare_proxy_app(upstream: str, signing_key: bytes) -> web.Application:
    # As large as the admin's principal the gateway forwards, so both sign and send the same amount.
    principal = Principal(
        user_id=1,
        username=ADMIN_USERNAME,
        is_admin=True,
        permissions=ALL_PERMISSIONS,
        credential_kind="api_key",
        credential_id="00000000-0000-0000-0000-000000000000",
    )

    async def forward(request: web.Request) -> web.Response:
        headers = {name: value for name, value in request.headers.items() if name.lower() not in DROPPED_HEADERS}
        headers[PRINCIPAL_HEADER] = sign_principal(principal, signing_key, "odata")
        body = await request.read() if request.body_exists else None
        async with request.app[SESSION].request(
            request.method, request.app[UPSTREAM] + request.raw_path, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            copied = {name: value for name, value in answer.headers.items() if name.lower() not in DROPPED_HEADERS}
            return web.Response(status=answer.status, body=payload, headers=copied)

    async def session(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=100), auto_decompress=False
        )
        yield
        await app[SESSION].close()

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app[UPSTREAM] = upstream
    app.cleanup_ctx.append(session)
    app.router.add_get("/readyz", ready)
    app.router.add_route("*", "/{path:.*}", forward)
    return app


def serve_bare_proxy() -> None:
    app = bare_proxy_app(os.environ["UPSTREAM_URL"], os.environ["INTERNAL_SIGNING_KEY"].encode())
    web.run_app(app, host=LOOPBACK, port=int(os.environ["LISTEN_PORT"]), access_log=None, print=None)


# ---------------------------------------------------------------------------------------------------------------
# (d) A JWT, if the OAuth server is there.


async def jwt_headers(platform: Platform, gateway: Service, session: aiohttp.ClientSession) -> dict[str, str] | str:
    """Authorization headers with a client-credentials JWT, or why there is none yet."""
    try:
        lines = platform.cli(
            "services.auth.oauth.cli",
            "register-plugin",
            "--name",
            "bench-plugin",
            "--owner",
            ADMIN_USERNAME,
            "--permissions",
            "products:read",
            "--scopes",
            "read",
        ).splitlines()
    except BenchError as error:
        return f"register-plugin failed ({str(error).splitlines()[-1][:120]})"
    settings = dict(line.split("=", 1) for line in lines if "=" in line)
    form = {
        "grant_type": "client_credentials",
        "client_id": settings.get("OAUTH_CLIENT_ID", ""),
        "client_secret": settings.get("OAUTH_CLIENT_SECRET", ""),
        "scope": "read",
    }
    async with session.post(f"{gateway.url}/auth/oauth/token", data=form) as answer:
        token = (await answer.json(content_type=None) or {}).get("access_token") if answer.status == 200 else None
        if not token:
            return f"POST /auth/oauth/token answered {answer.status}"
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(gateway.url + PATH, headers=headers) as answer:
        if answer.status != 200:
            return f"the gateway refused the JWT with {answer.status}"
    return headers


# ---------------------------------------------------------------------------------------------------------------


async def auth_service_calls(session: aiohttp.ClientSession, metrics_port: int) -> int:
    """Verifications the gateway could not answer from its cache so far (its metrics listener)."""
    async with session.get(f"http://{LOOPBACK}:{metrics_port}/metrics") as answer:
        text = await answer.text()
    for line in text.splitlines():
        if line.startswith("gateway_verify_cache_misses_total "):
            return int(float(line.split()[1]))
    return -1


async def revocation_latency(
    session: aiohttp.ClientSession, gateway: Service, admin: dict[str, str], trials: int
) -> list[tuple[float, float]]:
    """(ms from sending the revocation, ms from its answer) until the gateway refuses the key, per trial."""
    results = []
    for trial in range(trials):
        created = await fetch(
            session, "POST", f"{gateway.url}/api/keys", headers=admin, json={"name": f"revoked {trial}"}, expect=201
        )
        key_headers = {"X-API-Key": created["key"]}
        for _ in range(3):  # the first verifies with the auth service and caches, the others are cache hits
            await fetch(session, "GET", gateway.url + PATH, headers=key_headers)
        sent = time.perf_counter()
        await fetch(session, "POST", f"{gateway.url}/api/keys/{created['id']}/revoke", headers=admin)
        answered = time.perf_counter()
        while True:
            async with session.get(gateway.url + PATH, headers=key_headers) as answer:
                await answer.read()
                if answer.status == 401:
                    break
                if answer.status != 200:
                    raise BenchError(f"polling a revoked key answered {answer.status}")
            if time.perf_counter() - sent > 10:
                raise BenchError("the gateway still accepted a revoked key after 10 s")
        refused = time.perf_counter()
        results.append(((refused - sent) * 1000, (refused - answered) * 1000))
    return results


@dataclass
class Variant:
    """One way of sending the request, with its results per round and the CPU its processes spent."""

    label: str
    front: Service
    headers: dict[str, str]
    rounds: list[LoadResult] = field(default_factory=list)
    front_cpu: float = 0.0
    odata_cpu: float = 0.0

    HEADERS: ClassVar[list[str]] = [
        "variant",
        "requests",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "ratio to (a)",
        "front CPU us/req",
        "odata CPU us/req",
        "errors",
    ]

    async def run(
        self, session: aiohttp.ClientSession, odata: Service, concurrency: int, seconds: float, *, record: bool
    ) -> None:
        front_cpu, odata_cpu = self.front.cpu_seconds(), odata.cpu_seconds()
        call = Call("GET", self.front.url + PATH, self.headers)
        result = await run_load(self.label, call, concurrency=concurrency, seconds=seconds, session=session)
        if record:
            self.rounds.append(result)
            self.front_cpu += self.front.cpu_seconds() - front_cpu
            self.odata_cpu += odata.cpu_seconds() - odata_cpu

    @property
    def total(self) -> LoadResult:
        total = LoadResult(self.label)
        for result in self.rounds:
            total.merge(result)
        return total

    def row(self, baseline: Variant) -> list[object]:
        total = self.total
        ratios = sorted(
            mine.per_second / base.per_second for mine, base in zip(self.rounds, baseline.rounds, strict=True)
        )
        return [
            self.label,
            total.requests,
            f"{total.per_second:,.0f}",
            milliseconds(total.p(0.50)),
            milliseconds(total.p(0.99)),
            f"{statistics.median(ratios):.2f} [{ratios[0]:.2f}, {ratios[-1]:.2f}]",
            f"{self.front_cpu / max(total.requests, 1) * 1e6:,.0f}",
            f"{self.odata_cpu / max(total.requests, 1) * 1e6:,.0f}",
            total.failures,
        ]


async def measure(args: argparse.Namespace) -> None:
    print(f"bench_gateway: {machine_note()}")
    async with Platform(log_level=args.log_level) as platform:
        gateway_port = free_port()
        platform.env["OAUTH_ISSUER"] = f"http://{LOOPBACK}:{gateway_port}"
        platform.load_demo_data(args.products)
        admin_key = platform.create_admin_key()
        api_token = platform.enable_admin_api_token()
        auth = platform.start("auth")
        odata = platform.start("odata")
        await platform.wait_ready(auth, odata)
        metrics_port = free_port()
        gateway = platform.start(
            "gateway",
            extra_env=platform.gateway_env(auth, odata, METRICS_PORT=str(metrics_port)),
            port=gateway_port,
        )
        bare = platform.start(
            "bare-proxy",
            command=[sys.executable, SCRIPT, BARE_PROXY_FLAG],
            extra_env={"UPSTREAM_URL": odata.url},
        )
        await platform.wait_ready(gateway, bare)

        basic = base64.b64encode(f"{ADMIN_USERNAME}:{api_token}".encode()).decode()
        variants = [
            Variant("(a) bare aiohttp proxy", bare, {}),
            Variant("(b) gateway, API key", gateway, {"X-API-Key": admin_key}),
            Variant("(c) gateway, Basic", gateway, {"Authorization": f"Basic {basic}"}),
        ]
        async with aiohttp.ClientSession() as session:
            jwt = await jwt_headers(platform, gateway, session)
            if isinstance(jwt, dict):
                variants.append(Variant("(d) gateway, JWT", gateway, jwt))
            for variant in variants:  # every variant answers 200 before anything is measured
                await fetch(session, "GET", variant.front.url + PATH, headers=variant.headers)

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
            for variant in variants:
                await variant.run(session, odata, args.concurrency, args.warmup, record=False)
            misses_before = await auth_service_calls(session, metrics_port)
            for _ in range(args.rounds):
                for variant in variants:
                    await variant.run(session, odata, args.concurrency, args.seconds, record=True)
            misses_after = await auth_service_calls(session, metrics_port)
            load_after_throughput = load_average()
            trials = await revocation_latency(session, gateway, {"X-API-Key": admin_key}, args.trials)

    print()
    print(
        f"GET {PATH}, concurrency {args.concurrency}, {args.rounds} interleaved rounds of {args.seconds:g} s per "
        f"variant after {args.warmup:g} s warm-up each; {args.products} products; service LOG_LEVEL={args.log_level}"
    )
    print(render_table(Variant.HEADERS, [variant.row(variants[0]) for variant in variants]))
    if not isinstance(jwt, dict):
        print(f"(d) JWT: not available yet ({jwt})")
    print(
        "ratio = requests/s over requests/s of (a) in the same round: median [lowest, highest] of the rounds; "
        "CPU us/req = CPU time of the process / requests answered (front: the bare proxy or the gateway)"
    )
    for variant in variants:
        if variant.total.first_failure:
            print(f"  first error of {variant.label}: {variant.total.first_failure}")
    print(f"auth service calls by the gateway during the measured rounds: {misses_after - misses_before}")
    print(f"load average after the throughput rounds: {load_after_throughput}")
    sent = sorted(trial[0] for trial in trials)
    after = sorted(trial[1] for trial in trials)
    print()
    print(
        f"Revocation latency: {args.trials} keys, each cached at the gateway, revoked via POST /api/keys/{{id}}/revoke"
    )
    print(
        render_table(
            ["measured from", "median ms", "max ms"],
            [
                ["revocation sent", f"{statistics.median(sent):.1f}", f"{max(sent):.1f}"],
                ["revocation answered", f"{statistics.median(after):.1f}", f"{max(after):.1f}"],
            ],
        )
    )
    print(f"bench_gateway: done; {machine_note()}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000, help="demo products loaded (default 1000)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent client connections (default 32)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per variant and round (default 4)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per variant (default 2)")
    parser.add_argument("--trials", type=int, default=10, help="revocation trials (default 10)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the services (default INFO, as deployed)")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 100 or not 1 <= args.trials <= 1000 or not 1 <= args.products <= 10_000_000:
        parser.error("--rounds 1..100, --trials 1..1000, --products 1..10000000")
    return args


if __name__ == "__main__":
    if sys.argv[1:] == [BARE_PROXY_FLAG]:
        serve_bare_proxy()
    else:
        try:
            asyncio.run(measure(parse_args()))
        except BenchError as error:
            print(f"bench_gateway: {error}", file=sys.stderr)
            raise SystemExit(1) from None
