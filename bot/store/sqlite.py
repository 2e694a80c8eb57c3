"""SQLite, the embedded default: one file, one aiosqlite connection per process.

The connection runs in autocommit mode; a transaction is `BEGIN IMMEDIATE`, which takes
the file's write lock at once, so a count-then-insert (a quota) holds even against
another process on the same file. Within the process one lock orders every use of the
connection: a task must not read another's uncommitted transaction, nor commit it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.store.db import Dialect, Row, Transaction, UniqueViolation
from bot.store.migrate import migrations

log = logging.getLogger(__name__)


class _Connection:
    """Queries on the connection, for a caller that already holds the lock."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            async with self._db.execute(sql, args) as cur:
                return list(await cur.fetchall())
        except sqlite3.IntegrityError as exc:
            raise _unique(exc) from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return row[0] if row is not None else None

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            async with self._db.execute(sql, args) as cur:
                return cur.rowcount
        except sqlite3.IntegrityError as exc:
            raise _unique(exc) from exc

    async def lock(self, name: str) -> None:
        """`BEGIN IMMEDIATE` already holds the whole file."""


def _unique(exc: sqlite3.IntegrityError) -> Exception:
    return UniqueViolation(str(exc)) if "UNIQUE" in str(exc) else exc


# `exclusive` locks by file and name, for every store of the process on that file.
_EXCLUSIVE: defaultdict[tuple[Path, str], asyncio.Lock] = defaultdict(asyncio.Lock)


class SqliteDatabase:
    dialect: Dialect = "sqlite"
    clock_sql = "((julianday('now') - 2440587.5) * 86400.0)"

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._conn = _Connection(db)
        self._turn = asyncio.Lock()
        self._path = path.resolve()

    @classmethod
    async def open(cls, path: Path) -> SqliteDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; transactions are explicit (`transaction()`).
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=5000")
            await _migrate(db)
        except BaseException:
            # aiosqlite's thread is not a daemon: left open, the process could never exit.
            await db.close()
            raise
        return cls(db, path)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._turn:
            return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self._turn:
            return await self._conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._turn:
            return await self._conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._turn:
            return await self._conn.execute(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._turn:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        # One process per SQLite file is the supported setup (docs/scaling.md): a lock in
        # the process, shared by every store opened on the file, is the fleet's.
        async with _EXCLUSIVE[(self._path, name)]:
            yield

    async def close(self) -> None:
        await self._db.close()


async def _migrate(db: aiosqlite.Connection) -> None:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    current = int(row[0]) if row else 0
    for step in migrations("sqlite"):
        if step.number <= current:
            continue
        log.info("applying migration %04d (%s)", step.number, step.name)
        await db.executescript(f"BEGIN;\n{step.sql}\nPRAGMA user_version = {step.number};\nCOMMIT;")
