"""The OpenAPI document against the running platform: schemathesis generates requests for every JSON operation of
/openapi.json, sends them through the gateway with a valid API key, and checks that no answer is a 5xx and none
contradicts the document (status code, content type, headers, body schema)."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import RunningPlatform

# The permissions of the fuzzing user: every data API, its own keys and apps, reading users; never changing a user,
# so that no generated request can lock the run's admin out (what it may not call answers 403, which the document
# lists). Key ids are random UUIDs, so it cannot hit its own key either.
FUZZ_PERMISSIONS = [
    f"{resource}:{action}"
    for resource in ("products", "categories", "customers", "orders", "imports", "mappers", "api_keys", "apps")
    for action in ("read", "create", "update", "delete")
] + ["users:read"]
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
# Browser pages (HTML forms with CSRF tokens) are described, but not fuzzed.
EXCLUDED_PATHS = r"^/(auth|panel)/\{path\}$|^/api\.php/auth$"
MAX_EXAMPLES = 3
# The run takes about 35 s on an idle two-core machine; the limit only stops a hung run.
RUN_SECONDS = 240


async def _fuzzing_key(platform: RunningPlatform, admin_api_key: str) -> str:
    admin = {"X-API-Key": admin_api_key}
    async with aiohttp.ClientSession(platform.gateway, headers=admin) as http:
        user = await http.post(
            "/api/users",
            json={"username": f"fuzz-{secrets.token_hex(4)}", "permissions": FUZZ_PERMISSIONS},
        )
        assert user.status == 201, await user.text()
        key = await http.post("/api/keys", json={"name": "schemathesis", "user_id": (await user.json())["id"]})
        assert key.status == 201, await key.text()
        return str((await key.json())["key"])


@pytest.mark.timeout(RUN_SECONDS + 60)
async def test_schemathesis_finds_no_server_error_and_no_answer_contradicting_the_document(
    platform: RunningPlatform, admin_api_key: str, tmp_path: Path
) -> None:
    key = await _fuzzing_key(platform, admin_api_key)
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{platform.gateway}/openapi.json",
        "--url",
        platform.gateway,
        "--header",
        f"X-API-Key: {key}",
        "--checks",
        CHECKS,
        "--exclude-path-regex",
        EXCLUDED_PATHS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20240601",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--phases",
        "coverage,fuzzing",
        "--suppress-health-check",
        "all",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env={"PATH": "", "HOME": str(tmp_path), "SCHEMATHESIS_HOOKS": ""},
    )
    output, _ = await asyncio.wait_for(process.communicate(), RUN_SECONDS)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-12000:]
    assert "No issues found" in text or "passed" in text, text[-4000:]
