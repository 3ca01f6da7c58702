"""The commerce catalog: the entity model and its schema, read by the odata service and written by the importer."""

from pathlib import Path

SCHEMA = "catalog"
MIGRATIONS = Path(__file__).parent / "migrations"
