"""One small interface over the two databases the store runs on.

The store writes its SQL once, with `?` placeholders, in what both SQLite (3.35 and
later: `RETURNING`, `ON CONFLICT`) and PostgreSQL understand; `bot.store.sqlite` and
`bot.store.postgres` run it. What differs between them lives here as methods, not as
`if dialect` in the queries: a transaction that is serialised across processes, and a
lock held by one process of the fleet at a time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from functools import lru_cache
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgres"]


class Row(Protocol):
    """A result row: by column name or position (`sqlite3.Row`, `asyncpg.Record`)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


class DatabaseUnavailable(Exception):
    """The database could not be reached, or refused us (a wrong password, no such db)."""


class UniqueViolation(Exception):
    """An insert or update broke a UNIQUE constraint (a request key already used)."""


class Queries(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first column of the first row (None without a row)."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a write; the number of rows it changed. Outside a transaction it commits."""


class Transaction(Queries, Protocol):
    async def lock(self, name: str) -> None:
        """Hold `name` until this transaction ends, against every process of the fleet.

        PostgreSQL: `pg_advisory_xact_lock`. SQLite: nothing more to do, its
        transactions start with `BEGIN IMMEDIATE`, which already excludes every other
        writer of the file."""


class Database(Queries, Protocol):
    dialect: Dialect
    # SQL for the database's own clock, in epoch seconds: what leases are compared on, so
    # processes on hosts whose clocks differ still agree on when a lease ran out.
    clock_sql: str

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Every query through the transaction commits together, or none does."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held by one process of the fleet at a time (and one task in this process)."""

    async def close(self) -> None: ...


def lock_key(name: str) -> int:
    """A lock name as PostgreSQL's advisory lock key: a signed 64-bit integer, the same
    in every process (Python's `hash` is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


# `?` outside strings, quoted names and comments (where SQLite doesn't read it either):
# the store's placeholders. The rest is matched only to be skipped.
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\?", re.DOTALL)


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """The store's `?` placeholders as PostgreSQL's `$1, $2, ...`."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) != "?":
            return match.group(0)
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)
