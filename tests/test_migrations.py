"""The two dialects' migrations are the same changes: same numbers, same names, and the
schemas they build have the same tables, columns and indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.store.migrate import migrations
from bot.store.postgres import PostgresDatabase
from bot.store.sqlite import SqliteDatabase


def test_each_number_means_the_same_change_in_both_folders() -> None:
    sqlite = [(m.number, m.name) for m in migrations("sqlite")]
    postgres = [(m.number, m.name) for m in migrations("postgres")]
    assert sqlite == postgres
    assert [n for n, _ in sqlite] == list(range(1, len(sqlite) + 1))


def sqlite_schema(path: Path) -> dict[str, set[str]]:
    with sqlite3.connect(path) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        schema = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}
        schema["(indexes)"] = {
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'"
                " AND name NOT LIKE 'sqlite_autoindex%'"
            )
        }
    db.close()
    return schema


async def postgres_schema(url: str) -> dict[str, set[str]]:
    db = await PostgresDatabase.open(url)
    try:
        rows = await db.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name != 'schema_migrations'"
        )
        schema: dict[str, set[str]] = {}
        for r in rows:
            schema.setdefault(r[0], set()).add(r[1])
        indexes = await db.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'"
        )
        schema["(indexes)"] = {r[0] for r in indexes}
        return schema
    finally:
        await db.close()


async def test_both_dialects_build_the_same_tables_columns_and_indexes(
    tmp_path: Path, pg_url: str
) -> None:
    path = tmp_path / "db.sqlite3"
    await (await SqliteDatabase.open(path)).close()
    assert await postgres_schema(pg_url) == sqlite_schema(path)


async def test_processes_starting_together_apply_each_migration_once(pg_url: str) -> None:
    import asyncio

    opened = await asyncio.gather(*(PostgresDatabase.open(pg_url) for _ in range(4)))
    try:
        rows = await opened[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == [m.number for m in migrations("postgres")]
    finally:
        for db in opened:
            await db.close()
