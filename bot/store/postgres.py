"""PostgreSQL through an asyncpg pool: the store shared by several processes.

Installed with `pip install 'storyboard-bot[postgres]'`. Each query takes a pooled
connection for itself (autocommit); a transaction keeps one connection to its end.
Migrations run under an advisory lock, so processes starting together apply each once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from bot.store.db import (
    DatabaseUnavailable,
    Dialect,
    Row,
    Transaction,
    UniqueViolation,
    lock_key,
    numbered,
)
from bot.store.migrate import migrations

log = logging.getLogger(__name__)

MIGRATION_LOCK = "storyboard:migrations"


async def _keep_session(conn: Any) -> None:
    """A connection's way back to the pool: nothing to send.

    asyncpg's default sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release, a round trip per store call (half the statements the server saw in
    the fleet bench). The store declares no cursors, listens to nothing and sets no
    session settings; asyncpg rolls back an open transaction before this is called; and
    the one session state it does take, an advisory lock, is always let go of by
    `_session_lock`, or its connection closed, which lets go of it on the server.
    """


@asynccontextmanager
async def _session_lock(conn: Any, name: str) -> AsyncIterator[None]:
    key = lock_key(name)
    try:
        # Inside the `try`: a cancellation can land after the server granted it.
        await conn.execute("SELECT pg_advisory_lock($1)", key)
        yield
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
        except BaseException:
            conn.terminate()  # the server lets go of a closed session's locks
            raise


def _rowcount(status: str) -> int:
    """asyncpg answers a write with its command tag: 'UPDATE 3', 'INSERT 0 1', 'DELETE 0'."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _Connection:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            return list(await self._conn.fetch(numbered(sql), *args))
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        try:
            row: Row | None = await self._conn.fetchrow(numbered(sql), *args)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return row[0] if row is not None else None

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            return _rowcount(await self._conn.execute(numbered(sql), *args))
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc

    async def lock(self, name: str) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(name))


class PostgresDatabase:
    dialect: Dialect = "postgres"
    clock_sql = "extract(epoch FROM clock_timestamp())::double precision"

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=max_connections, reset=_keep_session
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # The message names the host and the reason, never the password.
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            await _migrate(pool)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self.pool.acquire() as conn:
            return await _Connection(conn).fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self.pool.acquire() as conn:
            return await _Connection(conn).fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await _Connection(conn).fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self.pool.acquire() as conn:
            return await _Connection(conn).execute(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield _Connection(conn)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        # A session lock on a connection kept for the whole hold: a process that dies
        # drops its connection, and the server releases the lock with it.
        async with self.pool.acquire() as conn, _session_lock(conn, name):
            yield

    async def close(self) -> None:
        await self.pool.close()


async def _migrate(pool: Any) -> None:
    async with pool.acquire() as conn, _session_lock(conn, MIGRATION_LOCK):
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        for step in migrations("postgres"):
            if step.number <= current:
                continue
            log.info("applying migration %04d (%s)", step.number, step.name)
            async with conn.transaction():
                await conn.execute(step.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    step.number,
                    step.name,
                )
