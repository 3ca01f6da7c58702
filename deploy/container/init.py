"""First start of a compose (or Kubernetes) deployment, run once before the services:

    python deploy/container/init.py           apply the catalog's and every service's migrations, create the first admin
    python deploy/container/init.py --demo    load the demo catalog and the demo import mappers (idempotent)

The admin is ADMIN_USERNAME (default admin) with ADMIN_PASSWORD; when that is empty a password is generated and
printed once, in the run that creates the user. Running it again changes nothing. Reads the services' settings
(DATABASE_URL, AMQP_URL, INTERNAL_SIGNING_KEY, SECRET_PEPPER, ENCRYPTION_KEY, STARTUP_TIMEOUT) and DEMO_PRODUCTS.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping

from services.auth.lifecycle import open_database as open_auth_database
from services.importer.app import open_database as open_importer_database
from services.importer.config import Config as ImporterConfig
from shared.catalog.migrate import run as migrate_catalog
from shared.config import ConfigError
from shared.service import DependencyUnavailable


class InitError(Exception):
    """A step failed; the message says which."""


async def apply_migrations(environ: Mapping[str, str]) -> None:
    config = ImporterConfig.from_env(environ)
    # The catalog's own step first (the services wait for it), then the importer's and the auth service's schemas,
    # which their pools apply when they open.
    await migrate_catalog(config.database_url, config.startup_timeout)
    pools = [
        await open_importer_database(config),
        await open_auth_database(config.database_url, config.startup_timeout),
    ]
    for pool in pools:
        await pool.close()


def run_step(description: str, args: list[str], environ: Mapping[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *args], env=dict(environ), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise InitError(f"{description} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def create_admin(environ: Mapping[str, str]) -> None:
    username = environ.get("ADMIN_USERNAME", "").strip() or "admin"
    password = environ.get("ADMIN_PASSWORD", "")
    generated = not password
    if generated:
        password = secrets.token_urlsafe(18)
    output = run_step(
        "creating the first admin",
        ["services.auth.cli", "create-admin", "--username", username, "--if-missing"],
        {**environ, "ADMIN_PASSWORD": password},
    )
    print(output, flush=True)
    if generated and output.startswith("created admin"):
        print(f"generated password for {username} (shown only this once): {password}", flush=True)


def load_demo(environ: Mapping[str, str]) -> None:
    products = environ.get("DEMO_PRODUCTS", "").strip() or "300"
    print(run_step("loading the demo catalog", ["shared.catalog.demo", "--products", products], environ), flush=True)
    print(run_step("creating the demo mappers", ["services.importer.cli", "create-demo-mappers"], environ), flush=True)


def main(argv: list[str]) -> int:
    try:
        if argv == ["--demo"]:
            load_demo(os.environ)
        elif not argv:
            asyncio.run(apply_migrations(os.environ))
            print("migrations applied", flush=True)
            create_admin(os.environ)
        else:
            print("usage: init.py [--demo]", file=sys.stderr)
            return 2
    except ConfigError as error:
        print(f"init: configuration error: {error}", file=sys.stderr)
        return 2
    except (InitError, DependencyUnavailable) as error:
        print(f"init: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
