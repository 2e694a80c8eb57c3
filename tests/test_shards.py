"""The shard map (`bot.shards`), the store's open jobs by shard, and identify pacing's turns."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.identify_pacing import IDENTIFY_WINDOW_SECONDS, IdentifyPacer
from bot.shards import Shards, shard_of
from bot.store import Store
from tests.test_store import new_job

# Real snowflakes of both shards of 2 (and of 4), and one near the top of 64 bits.
SHARD_0_GUILD = 1_300_000_000_000_000_001  # (id >> 22) % 2 == 0, % 4 == 0
SHARD_1_GUILD = 1_200_000_000_000_000_001  # (id >> 22) % 2 == 1, % 4 == 1
HIGH_GUILD = 9_200_000_000_004_194_305  # (id >> 22) % 2 == 1, % 4 == 3


def test_a_guilds_shard_is_its_id_shifted_modulo_the_count() -> None:
    assert [shard_of(g, 2) for g in (SHARD_0_GUILD, SHARD_1_GUILD, HIGH_GUILD)] == [0, 1, 1]
    assert [shard_of(g, 4) for g in (SHARD_0_GUILD, SHARD_1_GUILD, HIGH_GUILD)] == [0, 1, 3]
    assert shard_of(SHARD_1_GUILD, 1) == 0
    assert shard_of(None, 4) == 0  # a direct message arrives on shard 0


def test_a_process_owns_the_guilds_of_its_shards_and_direct_messages_with_shard_0() -> None:
    first, second = Shards(count=2, ids=(0,)), Shards(count=2, ids=(1,))
    assert (first.owns(SHARD_0_GUILD), first.owns(SHARD_1_GUILD), first.owns(None)) == (
        True,
        False,
        True,
    )
    assert (second.owns(SHARD_0_GUILD), second.owns(SHARD_1_GUILD), second.owns(None)) == (
        False,
        True,
        False,
    )
    assert (first.has_first, second.has_first) == (True, False)
    both = Shards.all_of(2)
    assert both.ids == (0, 1) and both.owns(SHARD_0_GUILD) and both.owns(SHARD_1_GUILD)
    assert both.describe() == "shards 0, 1 of 2"
    assert second.describe() == "shard 1 of 2"


@pytest.mark.parametrize(
    ("count", "ids", "problem"),
    [
        (2, (2,), "shard ids run from 0 to 1"),
        (2, (1, 1), "shard ids must not repeat"),
        (2, (), "at least 1 item"),
        (0, (0,), "greater than or equal to 1"),
    ],
)
def test_shards_that_cannot_be_are_refused(count: int, ids: tuple[int, ...], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Shards(count=count, ids=ids)


async def test_open_jobs_by_shard_are_those_of_its_guilds_and_dms_go_to_shard_0(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        made: dict[str, int] = {}
        for name, guild in [
            ("zero", SHARD_0_GUILD),
            ("one", SHARD_1_GUILD),
            ("high", HIGH_GUILD),
            ("dm", None),
            ("closed", SHARD_0_GUILD),
        ]:
            new = new_job(f"quick:{name}").model_copy(update={"guild_id": guild})
            made[name] = (await store.create_job(new)).id
        await store.mark_submit_failed(made["closed"], "provider.refused", {})  # not open
        ids = made

        first, second = Shards(count=2, ids=(0,)), Shards(count=2, ids=(1,))
        assert await store.open_job_ids(first) == [ids["zero"], ids["dm"]]
        assert await store.open_job_ids(second) == [ids["one"], ids["high"]]
        assert await store.open_job_ids(Shards.all_of(2)) == await store.open_job_ids()
        assert len(await store.open_job_ids()) == 4
        # Of 4 shards: 64-bit ids, and a process holding two of them.
        assert await store.open_job_ids(Shards(count=4, ids=(3,))) == [ids["high"]]
        assert await store.open_job_ids(Shards(count=4, ids=(0, 1))) == [
            ids["zero"],
            ids["one"],
            ids["dm"],
        ]
        assert await store.open_job_ids(Shards(count=4, ids=(2,))) == []
        assert [j.id for j in await store.open_jobs(second)] == [ids["one"], ids["high"]]
    finally:
        await store.close()


async def test_exclusive_is_held_by_one_store_of_a_file_at_a_time(tmp_path: Path) -> None:
    """Two Stores of one file stand for two processes: the second waits for the first."""
    path = tmp_path / "db.sqlite3"
    one, two = await Store.open(path), await Store.open(path)
    other = await Store.open(tmp_path / "other.sqlite3")
    try:
        order: list[str] = []
        inside = asyncio.Event()
        leave = asyncio.Event()

        async def first() -> None:
            async with one.exclusive("identify:0"):
                order.append("first in")
                inside.set()
                await leave.wait()
                order.append("first out")

        async def second() -> None:
            await inside.wait()
            async with two.exclusive("identify:0"):
                order.append("second in")

        async def elsewhere() -> None:
            await inside.wait()
            # Another name, or another database: not the same lock.
            async with two.exclusive("identify:1"), other.exclusive("identify:0"):
                order.append("elsewhere")
            leave.set()

        await asyncio.gather(first(), second(), elsewhere())
        assert order == ["first in", "elsewhere", "first out", "second in"]
    finally:
        for store in (one, two, other):
            await store.close()


class VirtualTime:
    """A clock that moves only when a pacer sleeps: the 5 s pass at once, exactly."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_processes_identifying_together_take_turns_per_bucket(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    stores = [await Store.open(path) for _ in range(3)]
    time = VirtualTime()
    try:
        # When each process took its turn: the pacer's last look at the clock, as it
        # records the turn (read after `wait_turn`, another's sleep may have moved it).
        at: dict[str, float] = {}

        async def identify(name: str, store: Store, shard: int, concurrency: int) -> None:
            def clock() -> float:
                at[name] = time.now
                return time.now

            await IdentifyPacer(clock=clock, sleep=time.sleep).wait_turn(store, shard, concurrency)

        # One bucket (max_concurrency 1): three processes at once go 5 s apart.
        await asyncio.gather(*(identify(f"p{n}", s, n, 1) for n, s in enumerate(stores)))
        assert sorted(at.values()) == [1_000.0, 1_005.0, 1_010.0]
        # Two buckets (max_concurrency 2): shard 2 waits for shard 0's turn, not shard 1's.
        time.now += 60
        at.clear()
        await asyncio.gather(
            identify("s0", stores[0], 0, 2),
            identify("s1", stores[1], 1, 2),
            identify("s2", stores[2], 2, 2),
        )
        assert (at["s1"], sorted([at["s0"], at["s2"]])) == (1_070.0, [1_070.0, 1_075.0])
        # Long after the last turn, no wait at all.
        time.now += 3600
        pacer = IdentifyPacer(clock=time.clock, sleep=time.sleep)
        assert await pacer.wait_turn(stores[0], 0, 1) == 0.0
    finally:
        for store in stores:
            await store.close()


async def test_a_turn_recorded_in_the_future_delays_at_most_one_window(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    time = VirtualTime()
    try:
        await store.set_meta("identify:0", repr(time.now + 3600))  # another host's clock ahead
        waited = await IdentifyPacer(clock=time.clock, sleep=time.sleep).wait_turn(store, 0, 1)
        assert waited == IDENTIFY_WINDOW_SECONDS
    finally:
        await store.close()


async def test_two_processes_on_one_file_write_and_read_at_the_same_time(tmp_path: Path) -> None:
    """Two stores on one SQLite file (two processes): writes and reads interleaved at once
    all go through; none meets "database is locked", none is lost. Each read is finished
    before its connection is used again, so no write ever meets its own open read."""
    path = tmp_path / "db.sqlite3"
    mine, theirs = await Store.open(path), await Store.open(path)
    try:
        stores = [mine, theirs] * 20
        await asyncio.gather(
            *(s.create_job(new_job(f"quick:{n}")) for n, s in enumerate(stores)),
            *(s.open_job_ids() for s in stores),
            *(s.set_meta(f"k{n}", "1") for n, s in enumerate(stores)),
        )
        assert len(await mine.jobs()) == len(await theirs.open_job_ids()) == 40
        assert len(await theirs.meta_keys("k")) == 40
    finally:
        await mine.close()
        await theirs.close()
