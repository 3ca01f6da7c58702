"""Plugin authorization (docs/oauth.md): register a plugin from the command line, start the example plugin through the
runner with its credentials injected, and let it call the API through the gateway with a client-credentials token."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from pathlib import Path

from aiohttp.test_utils import TestServer

from services.odata.app import create_app as create_odata
from services.odata.config import Config as OdataConfig
from tests.oauth.conftest import OAuthHarness

ROOT = Path(__file__).resolve().parents[2]


async def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """A command run without blocking the event loop the test's servers live on."""
    process = await asyncio.create_subprocess_exec(
        *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def register(oauth: OAuthHarness, cli_env: dict[str, str], name: str, *extra: str) -> dict[str, str]:
    admin = await oauth.user(admin=True, signs_in=False)
    code, out, err = await run(
        cli_env,
        sys.executable,
        "-m",
        "services.auth.oauth.cli",
        "register-plugin",
        "--name",
        name,
        "--owner",
        admin["username"],
        *extra,
    )
    assert code == 0, err
    return dict(line.split("=", 1) for line in out.strip().splitlines())


async def test_register_plugin_prints_its_three_settings(oauth: OAuthHarness, cli_env: dict[str, str]) -> None:
    settings = await register(
        oauth, cli_env, f"plugin-{secrets.token_hex(4)}", "--api-base-url", "https://shop.example"
    )
    assert set(settings) == {"OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "API_BASE_URL"}
    assert settings["API_BASE_URL"] == "https://shop.example"
    async with oauth.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT kind, grant_types, granted_permissions FROM auth.oauth_clients WHERE client_id = $1",
            settings["OAUTH_CLIENT_ID"],
        )
    assert row["kind"] == "plugin" and row["grant_types"] == ["client_credentials"]
    assert all(permission.endswith(":read") for permission in row["granted_permissions"])


async def test_plugin_name_is_unique(oauth: OAuthHarness, cli_env: dict[str, str]) -> None:
    name = f"plugin-{secrets.token_hex(4)}"
    await register(oauth, cli_env, name)
    admin = await oauth.user(admin=True, signs_in=False)
    code, _, err = await run(
        cli_env,
        sys.executable,
        "-m",
        "services.auth.oauth.cli",
        "register-plugin",
        "--name",
        name,
        "--owner",
        admin["username"],
    )
    assert code == 1 and "already exists" in err


async def test_only_an_admin_registers_a_plugin(oauth: OAuthHarness, cli_env: dict[str, str]) -> None:
    user = await oauth.user(permissions={"products:read"})
    code, out, err = await run(
        cli_env,
        sys.executable,
        "-m",
        "services.auth.oauth.cli",
        "register-plugin",
        "--name",
        "x",
        "--owner",
        user["username"],
    )
    assert code == 1 and "admin" in err and out == ""


async def test_runner_injects_the_credentials_and_withholds_the_servers_secrets(
    oauth: OAuthHarness, cli_env: dict[str, str]
) -> None:
    name = f"plugin-{secrets.token_hex(4)}"
    settings = await register(oauth, cli_env, name, "--api-base-url", "https://shop.example")
    show_env = "import json, os; print(json.dumps(dict(os.environ)))"
    code, out, err = await run(
        cli_env,
        sys.executable,
        "-m",
        "services.auth.oauth.plugin_runner",
        "--plugin",
        name,
        "--api-base-url",
        "https://shop.example",
        "--",
        sys.executable,
        "-c",
        show_env,
    )
    assert code == 0, err
    seen = json.loads(out)
    assert {name: seen[name] for name in settings} == settings
    assert not {"DATABASE_URL", "SECRET_PEPPER", "ENCRYPTION_KEY", "INTERNAL_SIGNING_KEY", "AMQP_URL"} & set(seen)


async def test_runner_refuses_an_unknown_plugin(cli_env: dict[str, str]) -> None:
    code, _, err = await run(
        cli_env,
        sys.executable,
        "-m",
        "services.auth.oauth.plugin_runner",
        "--plugin",
        "nope-" + secrets.token_hex(4),
        "--",
        "true",
    )
    assert code == 1 and "register it first" in err


async def test_example_plugin_fetches_products_through_the_gateway(
    oauth: OAuthHarness, gateway, cli_env: dict[str, str], oauth_env: dict[str, str]
) -> None:
    odata = TestServer(create_odata(OdataConfig.from_env(oauth_env)), host="127.0.0.1")
    await odata.start_server()
    try:
        gw = await gateway(odata_url=str(odata.make_url("")).rstrip("/"))
        name = f"example-{secrets.token_hex(4)}"
        await register(oauth, cli_env, name)
        code, out, err = await run(
            cli_env,
            sys.executable,
            "-m",
            "services.auth.oauth.plugin_runner",
            "--plugin",
            name,
            "--api-base-url",
            gw.url,
            "--",
            sys.executable,
            "plugins/example_plugin.py",
        )
    finally:
        await odata.close()
    assert code == 0, err
    result = json.loads(out)
    assert result["fetched_products"] == len(result["products"]) <= 3


async def test_example_plugin_without_credentials_says_how_to_start_it() -> None:
    code, _, err = await run({"PATH": "/usr/bin:/bin"}, sys.executable, "plugins/example_plugin.py")
    assert code == 2 and "plugin runner" in err


async def test_rotate_signing_key_command_publishes_the_new_key_beside_the_old(
    oauth: OAuthHarness, cli_env: dict[str, str]
) -> None:
    before = {key["kid"] for key in (await (await oauth.browser.get("/.well-known/jwks.json")).json())["keys"]}
    code, out, err = await run(cli_env, sys.executable, "-m", "services.auth.oauth.cli", "rotate-signing-key")
    assert code == 0, err
    from services.auth.oauth.keys import OAUTH

    await oauth.server.app[OAUTH].keyring.load(oauth.pool)
    after = {key["kid"] for key in (await (await oauth.browser.get("/.well-known/jwks.json")).json())["keys"]}
    assert out.strip() in after and before <= after
