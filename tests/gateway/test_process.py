"""The gateway as its operators run it: `python -m services.gateway`, here serving TLS from a certificate."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import sys
from pathlib import Path

import aiohttp

from tests.conftest import self_signed_certificate

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_gateway_serves_tls_from_a_configured_certificate_and_stops_cleanly_on_sigterm(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    cert_file, key_file = self_signed_certificate(tmp_path)
    port = _free_port()
    env = {
        **base_env,
        "PATH": os.environ.get("PATH", ""),
        "LISTEN_PORT": str(port),
        "TLS_CERT_FILE": str(cert_file),
        "TLS_KEY_FILE": str(key_file),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.gateway",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    trust = ssl.create_default_context(cafile=str(cert_file))
    try:
        status = None
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"https://127.0.0.1:{port}/healthz", ssl=trust) as response:
                        status = response.status
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        assert status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr.decode()


async def test_a_missing_certificate_file_is_a_clear_configuration_error(base_env: dict[str, str]) -> None:
    env = {**base_env, "TLS_CERT_FILE": "/nonexistent/cert.pem", "TLS_KEY_FILE": "/nonexistent/key.pem"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.gateway",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 2
    assert b"TLS_CERT_FILE" in stderr and b"Traceback" not in stderr
