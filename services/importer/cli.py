"""Operator commands of the importer.

    python -m services.importer.cli create-demo-mappers

reads the service's settings (DATABASE_URL, STARTUP_TIMEOUT, ...), applies the importer's migrations (once the
catalog has its schema), and creates the demo mappers (products-default and one per entity) where missing; running
it again changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from services.importer import db
from services.importer.app import open_database
from services.importer.config import Config
from services.importer.demo_mappers import DEMO_MAPPERS
from services.importer.mapper_inputs import require_entity
from services.importer.mappers import parse_definition
from shared.config import ConfigError
from shared.service import DependencyUnavailable


async def create_demo_mappers(config: Config) -> list[str]:
    pool = await open_database(config)
    created: list[str] = []
    try:
        async with pool.acquire() as conn:
            for mapper_id, (entity_name, name, definition) in DEMO_MAPPERS.items():
                parse_definition(require_entity(entity_name), definition)
                if await db.insert_mapper_if_missing(conn, mapper_id, entity_name, name, definition):
                    created.append(mapper_id)
    finally:
        await pool.close()
    return created


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.importer.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-demo-mappers", help="create the demo mappers (idempotent)")
    parser.parse_args(argv)
    try:
        config = Config.from_env(os.environ)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    try:
        created = asyncio.run(create_demo_mappers(config))
    except DependencyUnavailable as error:
        print(f"could not start: {error}", file=sys.stderr)
        return 1
    existing = [mapper_id for mapper_id in DEMO_MAPPERS if mapper_id not in created]
    print(f"created: {', '.join(created) or 'none'}; already present: {', '.join(existing) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
