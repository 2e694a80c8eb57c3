"""Store calls on PostgreSQL: our pool (no reset query on release) against asyncpg's default.

The same `bot.store.jobs.Store` over one PostgreSQL server (`tests/pg_server.py`, in
/dev/shm, fsync off), two databases made the same way: **ours** is
`PostgresDatabase.open` as the bot runs it; the **baseline** is the same class over
an `asyncpg.create_pool` with asyncpg's default `reset`, which sends
`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every release. Each
runs the store calls a tracker makes most (`find_job`, `note_look`) and `create_job`
(a transaction), `--calls` times each, `--tasks` at a time, alternating rounds so
both see the same machine. Printed: calls per second and the statements the server
sent per call (asyncpg's own count per connection, the reset query included), with the
ratio of the rates.

    .venv/bin/python -m bench.pg_pool
    .venv/bin/python -m bench.pg_pool --calls 4000 --tasks 8 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from bot.store.jobs import Store
from bot.store.postgres import PostgresDatabase, _migrate
from tests.pg_server import start_server
from tests.test_store import new_job

Call = Callable[[Store, int], Awaitable[object]]


async def baseline_db(url: str, size: int) -> PostgresDatabase:
    """The same database class over a pool with asyncpg's default reset."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=size)
    await _migrate(pool)
    return PostgresDatabase(pool)


def statements(store: Store) -> int:
    """Statements the pool's connections have sent so far (asyncpg counts them per
    connection for `max_queries`; the reset query is one of them)."""
    pool = store.db.pool  # type: ignore[attr-defined]
    return sum(h._con._protocol.queries_count for h in pool._holders if h._con is not None)


async def timed(store: Store, call: Call, calls: int, tasks: int) -> tuple[float, float]:
    """Calls per second, and the server's transactions per call."""
    ids = iter(range(calls))

    async def worker() -> None:
        for n in ids:
            await call(store, n)

    before = statements(store)
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    took = time.perf_counter() - began
    return calls / took, (statements(store) - before) / calls


def calls_of(job_id: int, run: str) -> dict[str, Call]:
    async def find(store: Store, n: int) -> object:
        return await store.find_job(job_id)

    async def look(store: Store, n: int) -> object:
        return await store.note_look(job_id)

    async def create(store: Store, n: int) -> object:
        return await store.create_job(new_job(f"bench:{run}:{n}:{time.monotonic_ns()}"))

    return {"find_job": find, "note_look": look, "create_job (a transaction)": create}


async def main(args: argparse.Namespace) -> None:
    server = start_server()
    try:
        ours_url = server.fresh_database_url("bench_ours")
        base_url = server.fresh_database_url("bench_baseline")
        ours = Store(await PostgresDatabase.open(ours_url, max_connections=args.tasks))
        base = Store(await baseline_db(base_url, args.tasks))
        try:
            stores = {"ours": ours, "baseline": base}
            jobs = {
                name: (await s.create_job(new_job(f"seed:{name}"))).id for name, s in stores.items()
            }
            print(
                f"PostgreSQL at 127.0.0.1 (tests/pg_server.py), {args.calls} calls per round,"
                f" {args.tasks} at a time, pool of {args.tasks}, {args.rounds} rounds"
            )
            print()
            print("| store call | pool | calls/s median (min-max) | statements sent per call |")
            print("|---|---|---|---|")
            for label in calls_of(0, "x"):
                rates: dict[str, list[float]] = {name: [] for name in stores}
                per: dict[str, list[float]] = {name: [] for name in stores}
                for round_ in range(args.rounds):
                    order = list(stores) if round_ % 2 == 0 else list(reversed(stores))
                    for name in order:
                        call = calls_of(jobs[name], f"{name}{round_}")[label]
                        rate, statements = await timed(stores[name], call, args.calls, args.tasks)
                        rates[name].append(rate)
                        per[name].append(statements)
                for name in stores:
                    r = rates[name]
                    print(
                        f"| {label} | {name} | {statistics.median(r):,.0f}"
                        f" ({min(r):,.0f}-{max(r):,.0f}) | {statistics.median(per[name]):.2f} |"
                    )
                ratio = statistics.median(rates["ours"]) / statistics.median(rates["baseline"])
                print(f"| | ours / baseline | **{ratio:.2f}x** | |")
        finally:
            await ours.close()
            await base.close()
            server.drop_database(ours_url)
            server.drop_database(base_url)
    finally:
        server.stop()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
