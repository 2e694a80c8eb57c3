"""The fleet's pacer for one API key: statements per granted start, ours against the last version.

`--processes` "processes" (each a PostgreSQL pool of its own on one database, as bot
processes have) pace one key at `--rate` requests a second through the real
`RequestPacer` with the store's shared pacing, `--tasks` callers each, for `--seconds`.
**ours** is `bot.store.pacing.KeyPacers`: a refused turn is one statement that also
says how long to wait. The **baseline** is the version before it (kept here): a refused
turn is the upsert, then a second statement to read the wait. Both run on one
PostgreSQL 15 (`tests/pg_server.py`, /dev/shm, fsync off), one after the other, each on
a fresh database. Printed: grants a second against the fleet's ceiling
(`rate / (1 + FLEET_SLACK)`), the most grants within any one second, and statements sent
per grant (asyncpg's own count per connection).

    .venv/bin/python -m bench.key_pacing
    .venv/bin/python -m bench.key_pacing --processes 4 --tasks 8 --rate 20 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from collections.abc import Sequence
from typing import Any

from bot.store.pacing import _NOW, _PAUSE, _UNAVAILABLE, KeyPacers
from bot.store.postgres import PostgresDatabase
from bot.videos_api.ratelimit import FLEET_SLACK, PacingUnavailable, RequestPacer, Turn
from tests.pg_server import start_server

_GRANT = f"""
INSERT INTO key_pacers AS p (key_digest, last_start)
VALUES (?, {_NOW})
ON CONFLICT (key_digest) DO UPDATE SET last_start = {_NOW}
WHERE p.last_start <= {_NOW} - ? AND p.paused_until <= {_NOW}
RETURNING p.last_start
"""
_WHEN = f"SELECT last_start, paused_until, {_NOW} AS now FROM key_pacers WHERE key_digest = ?"


class TwoStatementPacers(KeyPacers):
    """The baseline: `KeyPacers.take_turn` as it was, a refusal read by a second statement."""

    async def take_turn(self, digest: str, interval: float) -> Turn:
        try:
            if await self._db.fetchrow(_GRANT, digest, interval) is not None:
                return Turn(granted=True)
            row = await self._db.fetchrow(_WHEN, digest)
        except _UNAVAILABLE as exc:
            raise PacingUnavailable(str(exc)) from exc
        if row is None:
            return Turn(granted=False)
        now, paused_until = float(row["now"]), float(row["paused_until"])
        wait = max(float(row["last_start"]) + interval, paused_until) - now
        return Turn(granted=False, wait=max(0.0, wait), paused_for=max(0.0, paused_until - now))

    async def pause(self, digest: str, seconds: float) -> None:
        await self._db.execute(_PAUSE, digest, seconds)


def statements(db: PostgresDatabase) -> int:
    pool: Any = db.pool
    return sum(h._con._protocol.queries_count for h in pool._holders if h._con is not None)


async def run(url: str, kind: type[KeyPacers], args: argparse.Namespace) -> dict[str, float]:
    dbs = [await PostgresDatabase.open(url, max_connections=4) for _ in range(args.processes)]
    digest = hashlib.sha256(b"bench key").hexdigest()
    grants: list[float] = []
    try:
        before = sum(statements(db) for db in dbs)
        deadline = time.monotonic() + args.seconds

        async def caller(pacer: RequestPacer) -> None:
            while time.monotonic() < deadline:
                await pacer.wait()
                grants.append(time.monotonic())

        pacers = [RequestPacer(args.rate, shared=kind(db), digest=digest) for db in dbs]
        await asyncio.gather(*(caller(p) for p in pacers for _ in range(args.tasks)))
        sent = sum(statements(db) for db in dbs) - before
    finally:
        for db in dbs:
            await db.close()
    start = grants[0]
    busiest = max(sum(1 for t in grants if s <= t < s + 1.0) for s in grants)
    return {
        "rate": len(grants) / (grants[-1] - start) if len(grants) > 1 else 0.0,
        "busiest": busiest,
        "per_grant": sent / len(grants),
        "grants": len(grants),
    }


async def main(args: argparse.Namespace) -> None:
    server = start_server()
    ceiling = args.rate / (1 + FLEET_SLACK)
    try:
        print(
            f"{args.processes} processes x {args.tasks} callers pacing one key at {args.rate}/s"
            f" for {args.seconds:g} s; the fleet's ceiling {ceiling:.1f} grants/s"
        )
        print()
        print("| pacer | grants | grants/s | most in one second | statements per grant |")
        print("|---|---|---|---|---|")
        results = {}
        for name, kind in (("ours (one statement)", KeyPacers), ("baseline", TwoStatementPacers)):
            url = server.fresh_database_url(f"bench_{kind.__name__.lower()}")
            try:
                r = results[name] = await run(url, kind, args)
            finally:
                server.drop_database(url)
            print(
                f"| {name} | {r['grants']:.0f} | {r['rate']:.1f} | {r['busiest']:.0f}"
                f" | {r['per_grant']:.2f} |"
            )
        ours, base = results.values()
        print(f"| ours / baseline | | | | **{ours['per_grant'] / base['per_grant']:.2f}x** |")
    finally:
        server.stop()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
