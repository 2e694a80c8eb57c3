"""The PostgreSQL adapter's pool (`bot.store.postgres`): a connection goes back to the pool
without asyncpg's per-release reset query (a round trip per store call), and still never
with a session advisory lock held, a cancelled wait for one included."""

from __future__ import annotations

import asyncio

import pytest

from bot.store.postgres import PostgresDatabase

pytestmark = pytest.mark.usefixtures("pg_server")


async def statements_sent(db: PostgresDatabase) -> list[str]:
    """Start logging every statement the pool's (one) connection sends; the list fills."""
    sent: list[str] = []
    async with db.pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
    return sent


async def test_a_store_call_is_one_statement(pg_url: str) -> None:
    db = await PostgresDatabase.open(pg_url, max_connections=1)
    try:
        sent = await statements_sent(db)
        sent.clear()
        for n in range(5):
            assert await db.fetchval("SELECT ?::int + 1", n) == n + 1
        async with db.transaction() as tx:
            await tx.execute("SELECT 1")
        # The five queries and the transaction's own; no reset query between them.
        assert not [q for q in sent if "pg_advisory_unlock_all" in q or "RESET ALL" in q]
        assert len([q for q in sent if q.startswith("SELECT $1::int")]) == 5
    finally:
        await db.close()


async def hold(db: PostgresDatabase, name: str) -> None:
    async with db.exclusive(name):
        await asyncio.sleep(3600)


async def held_locks(db: PostgresDatabase) -> int:
    return int(await db.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"))


async def test_an_exclusive_hold_is_let_go_of_when_done_or_given_up(pg_url: str) -> None:
    one = await PostgresDatabase.open(pg_url, max_connections=1)
    two = await PostgresDatabase.open(pg_url, max_connections=1)
    try:
        async with one.exclusive("identify:0"):
            assert await held_locks(two) == 1
            # Two waits for it, and gives up (a stop cancelling the task).
            waiting = asyncio.create_task(hold(two, "identify:0"))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        assert await held_locks(one) == 0  # neither connection keeps a lock in the pool
        # The same pooled connections take it in turn at once.
        async with asyncio.timeout(5):
            async with two.exclusive("identify:0"):
                assert await held_locks(one) == 1
            async with one.exclusive("identify:0"):
                pass
        assert await held_locks(one) == 0
    finally:
        await one.close()
        await two.close()
