from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.db import MigrationError, apply_migrations, open_pool


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


async def test_migrations_apply_in_order_once(database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_first.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    write(tmp_path, "002_second.sql", "ALTER TABLE things ADD COLUMN name text;")
    async with open_pool(database_url) as pool:
        assert await apply_migrations(pool, "mig_order", tmp_path) == ["001_first.sql", "002_second.sql"]
        assert await apply_migrations(pool, "mig_order", tmp_path) == []
        columns = await pool.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'mig_order' "
            "AND table_name = 'things' ORDER BY ordinal_position"
        )
        assert [row["column_name"] for row in columns] == ["id", "name"]


async def test_replicas_starting_together_apply_each_migration_once(database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_counter.sql", "CREATE TABLE counter (n int); INSERT INTO counter VALUES (1);")
    async with open_pool(database_url, max_size=8) as pool:
        results = await asyncio.gather(*(apply_migrations(pool, "mig_race", tmp_path) for _ in range(6)))
        assert sorted(len(r) for r in results) == [0, 0, 0, 0, 0, 1]
        assert await pool.fetchval("SELECT count(*) FROM mig_race.counter") == 1


async def test_a_changed_applied_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_t.sql", "CREATE TABLE t (id int);")
    async with open_pool(database_url) as pool:
        await apply_migrations(pool, "mig_changed", tmp_path)
        write(tmp_path, "001_t.sql", "CREATE TABLE t (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(pool, "mig_changed", tmp_path)


async def test_a_failing_migration_leaves_nothing_half_applied(database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "001_bad.sql", "CREATE TABLE half (id int); SELECT * FROM no_such_table;")
    async with open_pool(database_url) as pool:
        with pytest.raises(Exception, match="no_such_table"):
            await apply_migrations(pool, "mig_bad", tmp_path)
        assert await pool.fetchval("SELECT to_regclass('mig_bad.half')") is None


def test_badly_named_migration_files_are_refused(tmp_path: Path) -> None:
    from shared.db import migration_files

    write(tmp_path, "first.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNN_lowercase_name\.sql"):
        migration_files(tmp_path)
