"""Starts a plugin's command with its OAuth credentials in the environment (docs/oauth.md, plugin authorization):

    python -m services.auth.oauth.plugin_runner --plugin NAME [--api-base-url URL] -- command args...

The command gets OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and API_BASE_URL (default: API_BASE_URL, else OAUTH_ISSUER),
so the plugin needs no manual set-up. It does not inherit the server's own secrets (database URL, pepper, keys):
a plugin holds its client's credentials, nothing more. The runner replaces itself with the command (exec), so signals
and the exit status are the plugin's own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

from services.auth.config import Config
from services.auth.lifecycle import open_database
from services.auth.oauth.cli import api_base_url
from services.auth.oauth.client_secrets import ClientSecretCipher, OAuthHasher
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.plugins import PluginCredentials, plugin_credentials
from shared.config import ConfigError
from shared.errors import ApiError
from shared.service import DependencyUnavailable

# Server settings a plugin must not see.
WITHHELD_SETTINGS = (
    "DATABASE_URL",
    "AMQP_URL",
    "SECRET_PEPPER",
    "ENCRYPTION_KEY",
    "INTERNAL_SIGNING_KEY",
    "ADMIN_PASSWORD",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.auth.oauth.plugin_runner")
    parser.add_argument("--plugin", required=True, help="the name the plugin was registered with")
    parser.add_argument("--api-base-url", help="the gateway URL given to the plugin")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the plugin's command and arguments")
    return parser


async def load_credentials(config: Config, name: str, base_url: str) -> PluginCredentials:
    pool = await open_database(config.database_url, config.startup_timeout)
    try:
        async with pool.acquire() as conn:
            return await plugin_credentials(
                conn,
                ClientSecretCipher(config.encryption_key.bytes),
                OAuthHasher(config.secret_pepper.bytes),
                name,
                base_url,
            )
    finally:
        await pool.close()


def plugin_environment(environ: Mapping[str, str], credentials: PluginCredentials) -> dict[str, str]:
    kept = {name: value for name, value in environ.items() if name not in WITHHELD_SETTINGS}
    return {**kept, **credentials.environment()}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("plugin runner: give the plugin's command after --", file=sys.stderr)
        return 2
    try:
        config = Config.from_env(os.environ)
        base_url = api_base_url(args.api_base_url, os.environ, OAuthConfig.from_env(os.environ))
    except ConfigError as error:
        print(f"plugin runner: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        credentials = asyncio.run(load_credentials(config, args.plugin, base_url))
    except (ApiError, DependencyUnavailable) as error:
        print(f"plugin runner: {error.message if isinstance(error, ApiError) else error}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    try:
        os.execvpe(command[0], command, plugin_environment(os.environ, credentials))  # noqa: S606 (the operator's command)
    except OSError as error:
        print(f"plugin runner: cannot start {command[0]}: {error.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    raise SystemExit(main())
