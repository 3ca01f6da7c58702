"""Benchmark of the OAuth server: client-credentials tokens per second (HTTP, end to end: client authentication,
signing, recording the jti) and JWT verifications per second at the gateway (services/gateway/jwt_verifier.py,
signature and claims, keys cached). Not a test: it prints a table.

    .venv/bin/python bench/bench_oauth.py [--seconds 5] [--concurrency 16] [--verifications 20000]

Uses the PostgreSQL and RabbitMQ of DATABASE_URL / AMQP_URL (default: the local ones), in a database and bus prefix
of its own that it removes afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.auth import db as auth_db
from services.auth.app import create_app
from services.auth.config import Config
from services.auth.keys import POOL
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.developer_apps import AppSettings, DeveloperApps
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.setup import setup_oauth
from services.gateway.jwt_verifier import JwtVerifier

ISSUER = "http://127.0.0.1:8080"


async def admin_sql(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def token_rate(
    base_url: str, client_id: str, secret: str, seconds: float, concurrency: int
) -> tuple[int, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "read"}

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.post(f"{base_url}/auth/oauth/token", data=data) as response:
                await response.read()
                assert response.status == 200, response.status
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return len(latencies), latencies


async def main(args: argparse.Namespace) -> None:
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"bench_{secrets.token_hex(4)}"
    database_url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    await admin_sql(server_url, f'CREATE DATABASE "{name}"')
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        "BUS_PREFIX": f"bench-{secrets.token_hex(4)}",
        "INTERNAL_SIGNING_KEY": secrets.token_urlsafe(32),
        "SECRET_PEPPER": secrets.token_urlsafe(32),
        "ENCRYPTION_KEY": secrets.token_urlsafe(32),
        "LOG_LEVEL": "WARNING",
        "OAUTH_ISSUER": ISSUER,
    }
    config = Config.from_env(env)
    app = create_app(config)
    if OAUTH not in app:
        setup_oauth(app, config, OAuthConfig.from_env(env))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        oauth = app[OAUTH]
        async with app[POOL].acquire() as conn:
            owner = await auth_db.insert_user(conn, f"bench-{secrets.token_hex(4)}", None, None, True)
            settings = AppSettings("bench", True, (), ("read",), ("client_credentials",), frozenset({"products:read"}))
            client_id, secret = await DeveloperApps(oauth.hasher, oauth.secret_cipher).create(conn, owner, settings)
        assert secret is not None
        base_url = str(server.make_url("")).rstrip("/")
        await token_rate(base_url, client_id, secret, 0.5, args.concurrency)  # warm-up
        count, latencies = await token_rate(base_url, client_id, secret, args.seconds, args.concurrency)
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{base_url}/auth/oauth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            ) as response:
                token = (await response.json())["access_token"]
        verify_rates = {}
        for label, cache_size in (("uncached", 0), ("cached", 10_000)):
            verifier = JwtVerifier(f"{base_url}/.well-known/jwks.json", ISSUER, ISSUER, cache_size=cache_size)
            try:
                await verifier.verify(token)
                started = time.perf_counter()
                for _ in range(args.verifications):
                    await verifier.verify(token)
                verify_rates[label] = args.verifications / (time.perf_counter() - started)
            finally:
                await verifier.close()
    finally:
        await server.close()
        await admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    latencies.sort()
    print(f"{'measure':<44}{'value':>14}")
    print(f"{'client-credentials tokens/s (HTTP, c=' + str(args.concurrency) + ')':<44}{count / args.seconds:>14.0f}")
    print(f"{'  token p50 latency ms':<44}{statistics.median(latencies) * 1000:>14.1f}")
    print(f"{'  token p99 latency ms':<44}{latencies[int(len(latencies) * 0.99) - 1] * 1000:>14.1f}")
    print(f"{'JWT verifications/s, signature (ES256, 1 core)':<44}{verify_rates['uncached']:>14.0f}")
    print(f"{'JWT verifications/s, verified-token cache':<44}{verify_rates['cached']:>14.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--verifications", type=int, default=20_000)
    asyncio.run(main(parser.parse_args()))
