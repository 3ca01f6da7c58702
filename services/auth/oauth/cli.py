"""Operator commands of the OAuth server:

    python -m services.auth.oauth.cli register-plugin --name NAME --owner ADMIN [--permissions products:read,...]
                                                      [--scopes "read write"] [--api-base-url URL]
    python -m services.auth.oauth.cli rotate-signing-key

register-plugin creates a client-credentials-only client for a plugin and prints the three lines a plugin needs
(OAUTH_CLIENT_ID=..., OAUTH_CLIENT_SECRET=..., API_BASE_URL=...); the plugin runner injects them for you
(python -m services.auth.oauth.plugin_runner). rotate-signing-key makes a new signing key (printing its kid); the
old one keeps verifying until its tokens expire, and running servers switch within OAUTH_KEY_RELOAD_SECONDS.
Reads the auth service's settings (DATABASE_URL, SECRET_PEPPER, ENCRYPTION_KEY, ...) and OAUTH_*; applies the
migrations first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from services.auth.config import Config
from services.auth.lifecycle import open_database
from services.auth.oauth.client_secrets import ClientSecretCipher, OAuthHasher, PrivateKeyCipher
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.developer_apps import DeveloperApps
from services.auth.oauth.plugins import register_plugin
from services.auth.oauth.signing import rotate_signing_key
from shared.config import ConfigError, read_url
from shared.errors import ApiError
from shared.service import DependencyUnavailable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.auth.oauth.cli", description="OAuth server commands")
    commands = parser.add_subparsers(dest="command", required=True)
    plugin = commands.add_parser("register-plugin", help="create a plugin's client and print its credentials")
    plugin.add_argument("--name", required=True, help="the plugin's name (the runner finds it by this name)")
    plugin.add_argument("--owner", required=True, help="username of the admin who registers it and grants rights")
    plugin.add_argument("--permissions", help="comma-separated resource:action list (default: every :read)")
    plugin.add_argument("--scopes", help='space-separated scopes the plugin may request (default: "read write")')
    plugin.add_argument("--api-base-url", help="the gateway URL given to the plugin (default: OAUTH_ISSUER)")
    commands.add_parser("rotate-signing-key", help="make a new signing key; the old one is published until expiry")
    return parser


def api_base_url(args_value: str | None, environ: Mapping[str, str], oauth_config: OAuthConfig) -> str:
    if args_value:
        return read_url({"API_BASE_URL": args_value}, "API_BASE_URL", ("http", "https"))
    return read_url(environ, "API_BASE_URL", ("http", "https"), oauth_config.issuer)


async def run(args: argparse.Namespace, config: Config, oauth_config: OAuthConfig, base_url: str, out: TextIO) -> None:
    pool = await open_database(config.database_url, config.startup_timeout)
    try:
        if args.command == "register-plugin":
            apps = DeveloperApps(
                OAuthHasher(config.secret_pepper.bytes), ClientSecretCipher(config.encryption_key.bytes)
            )
            permissions = [item.strip() for item in args.permissions.split(",")] if args.permissions else None
            scopes = args.scopes.split() if args.scopes else None
            async with pool.acquire() as conn:
                client_id, secret = await register_plugin(
                    conn, apps, name=args.name, owner_username=args.owner, permissions=permissions, scopes=scopes
                )
            print(f"OAUTH_CLIENT_ID={client_id}", file=out)
            print(f"OAUTH_CLIENT_SECRET={secret}", file=out)
            print(f"API_BASE_URL={base_url}", file=out)
        elif args.command == "rotate-signing-key":
            kid = await rotate_signing_key(
                pool, PrivateKeyCipher(config.encryption_key.bytes), oauth_config.signing_algorithm
            )
            print(kid, file=out)
    finally:
        await pool.close()


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        config = Config.from_env(env)
        oauth_config = OAuthConfig.from_env(env)
        base_url = api_base_url(getattr(args, "api_base_url", None), env, oauth_config)
    except ConfigError as error:
        print(f"oauth cli: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(args, config, oauth_config, base_url, out or sys.stdout))
    except (ApiError, DependencyUnavailable) as error:
        message = error.message if isinstance(error, ApiError) else str(error)
        print(f"oauth cli: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
