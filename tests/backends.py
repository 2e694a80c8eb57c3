"""Which store a test runs on: SQLite, PostgreSQL, or each in turn.

`pytest --store sqlite|postgres|both` chooses. Every test that asks for `store_backend`
(the `world` fixture does, so every end-to-end test) runs once per chosen backend, with
`[sqlite]` or `[postgres]` in its id; a test that never touches a store runs once.

The default is `sqlite` until `bot/store/` has its PostgreSQL side (issue 16); then it
becomes `both`, so the README's test command and `.ci/run` cover both backends.

A test on PostgreSQL gets a fresh empty database on the session's server
(`tests/pg_server.py`), made on first use and dropped after the test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.store.db import numbered
from tests.pg_server import PgServer

BACKENDS = ("sqlite", "postgres")
# `both` once the PostgreSQL store lands (issue 16); see the module's doc.
DEFAULT_STORE = "both"
SQLITE_FILE = "storyboard.sqlite3"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=(*BACKENDS, "both"),
        default=DEFAULT_STORE,
        help=f"the store backends tests that use a store run on (default: {DEFAULT_STORE})",
    )


def chosen_backends(config: pytest.Config) -> list[str]:
    choice = config.getoption("--store")
    return list(BACKENDS) if choice == "both" else [choice]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" not in metafunc.fixturenames:
        return
    backends = chosen_backends(metafunc.config)
    metafunc.parametrize("store_backend", backends, indirect=True, ids=backends)


class _Databases:
    """The PostgreSQL databases handed out in this test, by the directory they stand for,
    so that a second config for the same directory (a restart) reaches the same data."""

    def __init__(self) -> None:
        self.server: PgServer | None = None
        self.by_dir: dict[Path, str] = {}
        # The `[storage]` of each store `open_store` opened in this test, by `id(store)`.
        self.of_store: dict[int, dict[str, str]] = {}

    def url_for(self, data_dir: Path) -> str:
        key = data_dir.resolve()
        if key not in self.by_dir:
            if self.server is None:
                raise RuntimeError(
                    "a PostgreSQL store outside a test on PostgreSQL: ask for the "
                    "`store_backend` fixture (it starts the server)"
                )
            self.by_dir[key] = self.server.fresh_database_url(data_dir.name)
        return self.by_dir[key]

    def drop_all(self) -> None:
        urls, self.by_dir = list(self.by_dir.values()), {}
        self.of_store = {}
        if self.server is not None:
            for url in urls:
                self.server.drop_database(url)


_databases = _Databases()


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """ "sqlite" or "postgres", one per run of the test (see `pytest_generate_tests`)."""
    backend: str = request.param
    if backend == "postgres":
        _databases.server = request.getfixturevalue("pg_server")
    try:
        yield backend
    finally:
        _databases.drop_all()
        _databases.server = None


def storage_section(backend: str, data_dir: Path, sqlite_file: str = SQLITE_FILE) -> dict[str, str]:
    """The config's `[storage]` for a store whose data belongs to `data_dir`: a SQLite file
    in it, or a fresh PostgreSQL database (the same one each time for the same directory)."""
    if backend == "sqlite":
        return {"path": str(data_dir / sqlite_file)}
    if backend == "postgres":
        return {"url": _databases.url_for(data_dir)}
    raise ValueError(f"unknown store backend {backend!r}")


def storage_toml(section: dict[str, str]) -> str:
    """`section` as a config file's `[storage]` table (JSON strings are TOML strings)."""
    return "[storage]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in section.items())


async def open_store(backend: str, data_dir: Path) -> Any:
    """The store itself on `backend`, for tests whose subject is the store (not a bot).
    `store_sql` reaches its database beside it."""
    section = storage_section(backend, data_dir, "db.sqlite3")
    if backend == "sqlite":
        from bot.store import Store

        store: Any = await Store.open(Path(section["path"]))
    else:
        from bot.store import Store
        from bot.store.postgres import PostgresDatabase

        store = Store(await PostgresDatabase.open(section["url"]))
    _databases.of_store[id(store)] = section
    return store


async def store_sql(store: Any, statement: str, *args: Any) -> list[dict[str, Any]]:
    """`sql` on the database of a store `open_store` opened."""
    return await sql(_databases.of_store[id(store)], statement, *args)


async def sql(section: dict[str, str], statement: str, *args: Any) -> list[dict[str, Any]]:
    """Run one statement on the store's database through a connection of its own, as an
    operator would; the rows it returns. `?` placeholders, turned into `$1, $2, ...` for
    PostgreSQL. For what the bot offers no way to do (age a row by a day)."""
    if "path" in section:
        import aiosqlite

        async with aiosqlite.connect(section["path"]) as db:
            db.row_factory = aiosqlite.Row
            async with db.execute(statement, args) as cursor:
                rows = await cursor.fetchall()
            await db.commit()
        return [dict(r) for r in rows]
    import asyncpg

    conn = await asyncpg.connect(section["url"])
    try:
        return [dict(r) for r in await conn.fetch(numbered(statement), *args)]
    finally:
        await conn.close()


def rows(section: dict[str, str], statement: str, *args: Any) -> list[dict[str, Any]]:
    """`sql` from synchronous code, even inside a running event loop (a test's check
    that polls what a bot process wrote): on a loop of its own in a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, sql(section, statement, *args)).result()


@pytest.fixture
def pg_url(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh empty PostgreSQL database for a test whose subject is PostgreSQL itself
    (migrations, the fleet's pacer); dropped after it."""
    url = pg_server.fresh_database_url(request.node.name)
    try:
        yield url
    finally:
        pg_server.drop_database(url)
