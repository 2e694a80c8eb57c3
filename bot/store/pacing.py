"""One request ceiling per API key for the whole fleet: `key_pacers` in PostgreSQL.

A row per key digest (never the key) holds the key's last granted start and the end of
its pause, both on the database's clock: the processes' clocks never meet, each only
sleeps the seconds the database tells it. A start is granted by one atomic upsert that
advances `last_start` only if the previous start is far enough back and the key is not
paused, so two processes asking at the same moment can never both be granted.

Used with PostgreSQL only: an SQLite file serves one process, whose in-memory pacer
(`bot.videos_api.ratelimit`) already is the fleet's.
"""

from __future__ import annotations

import asyncpg

from bot.store.db import Database, DatabaseUnavailable
from bot.videos_api.ratelimit import PacingUnavailable, Turn

# The database's own clock, in seconds. `clock_timestamp()`, not `now()`: the moment
# the expression is evaluated (after any wait for the key's row lock), not the
# transaction's start.
_NOW = "extract(epoch FROM clock_timestamp())::float8"

# One statement, granted or not. Granted: the row is new, or its last start is `interval`
# back and its pause is over; then the start is recorded. The conditions are evaluated on
# the row as locked (ON CONFLICT takes the lock), never on a stale snapshot. Refused:
# nothing is written, and the same statement reads when the key may start next (the row
# as of the statement's start: if another process took the turn meanwhile, the wait read
# is short, and the next ask, a statement again, reads the new start).
_TAKE_TURN = f"""
WITH granted AS (
    INSERT INTO key_pacers AS p (key_digest, last_start)
    VALUES (?, {_NOW})
    ON CONFLICT (key_digest) DO UPDATE SET last_start = {_NOW}
    WHERE p.last_start <= {_NOW} - ? AND p.paused_until <= {_NOW}
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM granted) AS granted, k.last_start, k.paused_until, {_NOW} AS now
FROM (SELECT 1) AS one LEFT JOIN key_pacers AS k ON k.key_digest = ?
"""

_PAUSE = f"""
INSERT INTO key_pacers AS p (key_digest, last_start, paused_until)
VALUES (?, 0, {_NOW} + ?)
ON CONFLICT (key_digest) DO UPDATE SET paused_until = GREATEST(p.paused_until, excluded.paused_until)
"""

# What a database that is down, restarting or refusing us raises through asyncpg.
_UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, DatabaseUnavailable)


class KeyPacers:
    """`SharedPacing` over the store's PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def take_turn(self, digest: str, interval: float) -> Turn:
        try:
            row = await self._db.fetchrow(_TAKE_TURN, digest, interval, digest)
        except _UNAVAILABLE as exc:
            raise PacingUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if row is not None and row["granted"]:
            return Turn(granted=True)
        if row is None or row["last_start"] is None:
            # Refused by a row another process made after this statement began: ask again.
            return Turn(granted=False)
        now = float(row["now"])
        paused_until = float(row["paused_until"])
        wait = max(float(row["last_start"]) + interval, paused_until) - now
        # A wait already over (a start read from before another process's took the turn,
        # or the turn came free since): ask again.
        return Turn(granted=False, wait=max(0.0, wait), paused_for=max(0.0, paused_until - now))

    async def pause(self, digest: str, seconds: float) -> None:
        try:
            await self._db.execute(_PAUSE, digest, seconds)
        except _UNAVAILABLE as exc:
            raise PacingUnavailable(f"{type(exc).__name__}: {exc}") from exc
