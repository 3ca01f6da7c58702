"""An operator's first steps, from the command line (see CONTRACT.md):

    python -m services.auth.cli create-admin --username NAME [--email E] [--if-missing]
    python -m services.auth.cli create-key --username NAME --name "demo key" [--expires 2027-01-01]
    python -m services.auth.cli enable-api-token --username NAME
    python -m services.auth.cli revoke-key --id UUID

Reads the service's settings (DATABASE_URL, AMQP_URL, SECRET_PEPPER, ENCRYPTION_KEY, ...) and applies the
migrations first. create-key and enable-api-token print only the secret on stdout, so scripts can capture it.
The admin's password comes from ADMIN_PASSWORD, or is asked for when stdin is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import TextIO

from services.auth import accounts, api_keys, db, inputs
from services.auth.config import Config
from services.auth.context import AuthContext, operator_principal
from services.auth.crypto import CredentialHasher, TokenCipher
from services.auth.events import RevocationPublisher
from services.auth.lifecycle import open_database
from services.auth.outbox import publish_pending
from services.auth.passwords import validate_password
from shared import bus
from shared.config import ConfigError, is_placeholder
from shared.errors import ApiError, Conflict
from shared.service import DependencyUnavailable, connect_with_retry


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.auth.cli", description="Auth service operator commands")
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create an admin user (password from ADMIN_PASSWORD)")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email")
    admin.add_argument("--if-missing", action="store_true", help="succeed when the user already exists")
    key = commands.add_parser("create-key", help="create an API key and print only the key")
    key.add_argument("--username", required=True)
    key.add_argument("--name", required=True)
    key.add_argument("--expires", help="ISO 8601 date or date-time in the future")
    token = commands.add_parser("enable-api-token", help="enable a user's API token (Basic) and print only it")
    token.add_argument("--username", required=True)
    revoke = commands.add_parser("revoke-key", help="revoke an API key by id")
    revoke.add_argument("--id", required=True)
    return parser


class OperatorError(Exception):
    """A failure to report to the operator in one line."""


def _admin_password(environ: Mapping[str, str]) -> str:
    password = environ.get("ADMIN_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("Password for the new admin: ")
    if password is None:
        raise OperatorError("ADMIN_PASSWORD is not set and there is no terminal to ask for a password")
    if is_placeholder(password):
        raise OperatorError("ADMIN_PASSWORD still holds the example's placeholder; choose a password")
    return validate_password(password, "ADMIN_PASSWORD")


async def _user_id(ctx: AuthContext, username: str) -> int:
    async with ctx.pool.acquire() as conn:
        user_id = await db.get_user_id_by_username(conn, username)
    if user_id is None:
        raise OperatorError(f"no user named {username!r}")
    return user_id


async def run(args: argparse.Namespace, config: Config, environ: Mapping[str, str], out: TextIO) -> None:
    pool = await open_database(config.database_url, config.startup_timeout)
    try:
        async with await connect_with_retry(
            "RabbitMQ", lambda: bus.connect(config.common.amqp_url), timeout=config.startup_timeout
        ) as connection:
            channel = await bus.open_publisher_channel(connection)
            topology = bus.Topology(config.common.bus_prefix)
            await bus.declare_topology(channel, topology)
            ctx = AuthContext(
                pool=pool,
                hasher=CredentialHasher(config.secret_pepper.bytes),
                cipher=TokenCipher(config.encryption_key.bytes),
                publisher=RevocationPublisher(),
            )
            await _dispatch(ctx, args, environ, out)
            try:
                # A running auth service publishes these too; doing it here serves an operator with no service up.
                await publish_pending(pool, channel, topology.auth_events_exchange)
            except Exception as error:  # committed and kept in the outbox: the auth service publishes it later
                print(
                    f"auth cli: revocation left for the auth service to announce ({type(error).__name__})",
                    file=sys.stderr,
                )
    finally:
        await pool.close()


async def _dispatch(ctx: AuthContext, args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> None:
    operator = operator_principal()
    if args.command == "create-admin":
        username = inputs.username({"username": args.username})
        email = inputs.email({"email": args.email})
        async with ctx.pool.acquire() as conn:
            existing = await db.get_user_id_by_username(conn, username)
        if existing is not None:
            if args.if_missing:
                print(f"user {username} already exists", file=out)
                return
            raise OperatorError(f"user {username} already exists (use --if-missing to accept that)")
        try:
            user = await accounts.create_user(
                ctx,
                operator,
                username=username,
                email=email,
                password=_admin_password(environ),
                is_admin=True,
                permissions=frozenset(),
            )
        except Conflict:
            if not args.if_missing:
                raise
            print(f"user {username} already exists", file=out)
            return
        print(f"created admin {user['username']} (id {user['id']})", file=out)
    elif args.command == "create-key":
        name = inputs.text({"name": args.name}, "name", inputs.MAX_KEY_NAME_LENGTH)
        assert name is not None
        created = await api_keys.create_key(
            ctx,
            operator,
            name=name,
            expires_at=inputs.expiry(args.expires, "--expires"),
            scope=None,
            owner_id=await _user_id(ctx, args.username),
        )
        print(created["key"], file=out)
    elif args.command == "enable-api-token":
        answer = await accounts.set_api_access(ctx, operator, await _user_id(ctx, args.username), True)
        if "token" not in answer:
            raise OperatorError(f"API access is already enabled for {args.username}; its token is not shown again here")
        print(answer["token"], file=out)
    elif args.command == "revoke-key":
        try:
            key_id = uuid.UUID(args.id)
        except ValueError:
            raise OperatorError("--id must be an API key id (a UUID)") from None
        revoked = await api_keys.revoke_key(ctx, operator, key_id)
        print(f"revoked API key {revoked['id']} ({revoked['name']})", file=sys.stderr)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        config = Config.from_env(env)
    except ConfigError as error:
        print(f"auth cli: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(args, config, env, out or sys.stdout))
    except (ApiError, OperatorError, DependencyUnavailable) as error:
        message = error.message if isinstance(error, ApiError) else str(error)
        print(f"auth cli: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
