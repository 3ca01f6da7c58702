from __future__ import annotations

import asyncio
import io
import os
import secrets
import subprocess
import sys
from pathlib import Path

import aio_pika
import asyncpg

from services.auth.cli import main
from services.auth.credentials import is_well_formed_api_key
from shared.bus import Topology
from shared.messages import CredentialRevoked

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), env, out)
    return code, out.getvalue()


def _cli_env(base_env: dict[str, str]) -> dict[str, str]:
    return {
        **base_env,
        "ADMIN_PASSWORD": "an admin passphrase",
    }


def test_the_cli_creates_an_admin_once_and_accepts_it_existing_with_if_missing(base_env: dict[str, str]) -> None:
    env = _cli_env(base_env)
    name = f"admin-{secrets.token_hex(4)}"
    code, out = _run(env, "create-admin", "--username", name, "--email", "admin@example.com")
    assert code == 0 and name in out
    assert _run(env, "create-admin", "--username", name)[0] == 1
    code, out = _run(env, "create-admin", "--username", name.upper(), "--if-missing")
    assert code == 0 and "already exists" in out


def test_the_cli_refuses_a_missing_admin_password_and_bad_settings(base_env: dict[str, str]) -> None:
    env = _cli_env(base_env)
    del env["ADMIN_PASSWORD"]
    assert _run(env, "create-admin", "--username", f"admin-{secrets.token_hex(4)}")[0] == 1
    assert _run({**env, "SECRET_PEPPER": "short"}, "create-admin", "--username", "x")[0] == 2


def test_the_cli_prints_only_the_key_and_only_the_token(base_env: dict[str, str]) -> None:
    env = _cli_env(base_env)
    name = f"admin-{secrets.token_hex(4)}"
    assert _run(env, "create-admin", "--username", name)[0] == 0
    code, out = _run(env, "create-key", "--username", name, "--name", "demo key", "--expires", "2030-01-01")
    assert code == 0
    assert is_well_formed_api_key(out.strip()) and out.count("\n") == 1
    code, out = _run(env, "enable-api-token", "--username", name)
    assert code == 0 and out.strip().startswith("cpt_") and out.count("\n") == 1
    assert _run(env, "create-key", "--username", "nobody-" + secrets.token_hex(4), "--name", "k")[0] == 1
    assert _run(env, "create-key", "--username", name, "--name", "k", "--expires", "2001-01-01")[0] == 1


def test_the_cli_revokes_a_key_and_announces_it(base_env: dict[str, str], amqp_url: str, bus_prefix: str) -> None:
    env = _cli_env(base_env)
    name = f"admin-{secrets.token_hex(4)}"
    assert _run(env, "create-admin", "--username", name)[0] == 0
    key = _run(env, "create-key", "--username", name, "--name", "to revoke")[1].strip()

    async def key_id() -> str:
        conn = await asyncpg.connect(base_env["DATABASE_URL"])
        try:
            return str(await conn.fetchval("SELECT id FROM auth.api_keys WHERE prefix = $1", key[:12]))
        finally:
            await conn.close()

    async def revoke_and_listen(identifier: str) -> CredentialRevoked:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                Topology(bus_prefix).auth_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True
            )
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange)
            code = await asyncio.to_thread(main, ["revoke-key", "--id", identifier], env, io.StringIO())
            assert code == 0
            for _ in range(100):
                message = await queue.get(fail=False, no_ack=True)
                if message is not None:
                    event = CredentialRevoked.decode(message.body)
                    if event.credential_id == identifier:
                        return event
                await asyncio.sleep(0.02)
        raise AssertionError("no revocation event")

    identifier = asyncio.run(key_id())
    event = asyncio.run(revoke_and_listen(identifier))
    assert event.reason == "revoked"
    assert _run(env, "revoke-key", "--id", "not-a-uuid")[0] == 1


def test_the_cli_runs_as_a_module(base_env: dict[str, str]) -> None:
    env = {**os.environ, **_cli_env(base_env)}
    name = f"admin-{secrets.token_hex(4)}"
    created = subprocess.run(
        [sys.executable, "-m", "services.auth.cli", "create-admin", "--username", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    key = subprocess.run(
        [sys.executable, "-m", "services.auth.cli", "create-key", "--username", name, "--name", "demo key"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert key.returncode == 0, key.stderr
    assert is_well_formed_api_key(key.stdout.strip())
