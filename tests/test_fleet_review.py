"""Sequences a review of issue 16 found that broke exactly-once across processes, kept as
regressions (docstrings describe the defect as it was).

A second process is a second `Store` on the bot's database (its own owner for delivery
claims) with a `Tracker` of its own, as during a rolling deploy's overlap, when an old
and a new process both watch a job. Both post through the fake Discord as the same bot.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.store import Job, Store
from bot.tracker import Delivery, Tracker
from tests.harness import World
from tests.test_money_e2e import delivered, posts_in, state_is, texts_in


@asynccontextmanager
async def second_process(world: World) -> AsyncIterator[Tracker]:
    """Another process's tracker over the world's database, posting as the same bot."""
    section = world.storage
    if "path" in section:
        store = await Store.open(Path(section["path"]))
    else:
        from bot.store.postgres import PostgresDatabase

        store = Store(await PostgresDatabase.open(section["url"]))
    tracker = Tracker(store, world.bot.video_api, world.bot.current_config)
    tracker.events = world.bot.tracker.events
    try:
        yield tracker
    finally:
        await store.close()


Deliver = Callable[..., Awaitable[Delivery]]


class Gate:
    """Holds the bot's deliveries of one job state until released: a slow upload."""

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch, state: str) -> None:
        events: Any = world.bot.tracker.events
        self._deliver: Deliver = events.deliver
        self.state = state
        self.entered = asyncio.Event()
        self.left = asyncio.Event()
        self._open = asyncio.Event()
        monkeypatch.setattr(events, "deliver", self.deliver)

    async def deliver(self, job: Job, *, maybe_posted: bool) -> Delivery:
        if job.state != self.state or self._open.is_set():
            return await self._deliver(job, maybe_posted=maybe_posted)
        self.entered.set()
        await self._open.wait()
        try:
            return await self._deliver(job, maybe_posted=maybe_posted)
        finally:
            self.left.set()

    def release(self) -> None:
        self._open.set()


def videos_in(world: World, thread_id: int | None) -> list[Any]:
    return [c for c in posts_in(world, thread_id) if c.files and c.status == 200]


# -- A late video is closed by the other process's expiry notice ------------------------


async def test_an_expiry_notice_recorded_after_another_process_found_the_video_does_not_close_it(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Process A expires a job and posts the expiry notice under its claim. Process B's
    poll, sent before the expiry, answers "completed": `record_poll` moves the job to
    `completed` and clears the claim. A then records its notice with `mark_delivered`,
    whose compare-and-set only asks "no claim, or mine": it matches, and the completed
    job is marked delivered with the expiry notice's message. B's claim then finds the
    job delivered: the paid video is never posted."""
    caplog.set_level(logging.INFO, logger="bot.tracker")
    await world.restart(world.config_with(tracking={"max_job_minutes": 0.01}))
    gate = Gate(world, monkeypatch, "expired")
    job = await world.submitted_job("A slow sunrise.")
    assert job.task_id is not None
    async with second_process(world) as b:
        # A expires the job and starts posting the expiry notice.
        await asyncio.wait_for(gate.entered.wait(), 10)
        assert await state_is(world, job.id, "expired")
        # The provider finishes the video; B's poll, sent while the job still ran
        # (its step read it as active), answers with it.
        world.provider.advance(3600)
        video, _ = await b.client_for(job).poll(job.task_id)
        assert video.status == "completed"
        assert (await b._store.record_poll(job.id, video)).state == "completed"
        # A's notice goes out and A records it.
        gate.release()
        await asyncio.wait_for(gate.left.wait(), 10)
        recorded = f"job={job.id} task_id={job.task_id} delivered"
        await world.wait_until(lambda: recorded in caplog.text)
        # B goes on to deliver what it found.
        await b.step(job.id)
        await world.wait_until(lambda: len(videos_in(world, job.thread_id)) == 1)
    await world.wait_until(lambda: delivered(world, job.id))
    done = await world.job(job.id)
    assert done.state == "completed"
    [notice] = [t for t in texts_in(world, job.thread_id)[1:] if "keep looking" in t]
    assert notice
    assert len(videos_in(world, job.thread_id)) == 1
    assert len(world.provider.requests_to("create")) == 1


# -- A database blip during a long upload ends the claim's renewal ------------------------


async def test_a_failed_lease_renewal_does_not_let_another_process_deliver_too(
    world: World, monkeypatch: pytest.MonkeyPatch, store_backend: str
) -> None:
    """`_holding_claim` renews the claim every third of the lease; one renewal that raises
    (the database restarting, SQLite's 'database is locked') ends the renewing task for
    good, silently. The upload goes on, the lease runs out, and a second process claims
    the job and posts the video as well (Discord's nonce stops that only for a few
    minutes; an upload that long is why the claim is renewed)."""
    lease = 3.0
    await world.restart(world.config_with(tracking={"delivery_lease_seconds": lease}))
    gate = Gate(world, monkeypatch, "completed")
    store: Any = world.bot.store
    renew = store.renew_delivery
    renewed: list[bool] = []

    async def blip_once(job_id: int, lease_seconds: float) -> bool:
        if not renewed:
            renewed.append(False)
            if store_backend == "sqlite":
                raise sqlite3.OperationalError("database is locked")
            raise ConnectionResetError("connection reset by peer")
        held = await renew(job_id, lease_seconds)
        renewed.append(held)
        return held

    monkeypatch.setattr(store, "renew_delivery", blip_once)
    job = await world.submitted_job("A long upload.")
    world.provider.advance(3600)
    await asyncio.wait_for(gate.entered.wait(), 10)

    async def lapsed_or_renewed_twice() -> bool:
        lease_until = (await world.job(job.id)).delivery_lease_until or 0.0
        return lease_until < time.time() or renewed.count(True) >= 2

    await world.wait_until(lapsed_or_renewed_twice, within=4 * lease)
    async with second_process(world) as b:
        # A is still uploading: the other process must not take the job over.
        assert await b._store.claim_delivery(job.id, lease) is None
        # (As it would at once: Discord's nonce memory is long past for a long upload.)
        world.fd.advance_clock(600)
        await b.step(job.id)
        gate.release()
        await asyncio.wait_for(gate.left.wait(), 10)
        await world.wait_until(lambda: delivered(world, job.id))
    assert len(videos_in(world, job.thread_id)) == 1


# -- A fleet over an SQLite file ----------------------------------------------------------


def test_a_process_running_part_of_the_shards_over_an_sqlite_file_is_warned_about(
    tmp_path: Path,
) -> None:
    """`shard_ids` naming only some shards says other processes run the rest; over an
    SQLite file, though, `Store.key_pacing()` is None and `exclusive` a lock in the
    process: each process keeps a shared key's `max_requests_per_second` (and Discord's
    IDENTIFY turns) for itself alone, so two processes send twice the ceiling. The bot
    started without a word."""
    from tests.test_first_hour_cli import GOOD, cli, write

    path = write(tmp_path, GOOD + "[discord]\nshard_count = 2\nshard_ids = [1]\n")
    result = cli(
        "check-config", str(path), env={"STORYBOARD_SHARD_COUNT": "", "STORYBOARD_SHARD_IDS": ""}
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: {path}: discord.shard_ids: this process runs shard 1 of 2, so others run"
        " the rest, but over an SQLite file each process keeps a key's"
        " max_requests_per_second and Discord's connect turns to itself: use [storage] url"
        " (PostgreSQL) for several processes",
    ]
    # Every shard in this one process: nothing to share, nothing said.
    whole = write(tmp_path, GOOD + "[discord]\nshard_count = 2\n", "whole.toml")
    assert cli("check-config", str(whole)).stderr == ""


# -- The placeholder converter -------------------------------------------------------------


async def test_a_question_mark_in_a_comment_or_a_quoted_name_is_not_a_placeholder(
    tmp_path: Path, store_backend: str
) -> None:
    """SQLite reads `?` only outside strings, quoted names and comments; `numbered` skipped
    only strings, so on PostgreSQL a `?` in a comment or a quoted name took a number: the
    same query ran on SQLite and failed on PostgreSQL (its real placeholder was `$2`)."""
    from tests.backends import open_store

    store = await open_store(store_backend, tmp_path)
    try:
        value = await store.db.fetchval(
            'SELECT ? AS "why?" -- or not?\n WHERE ? = 1 /* and? */', "answer", 1
        )
    finally:
        await store.close()
    assert value == "answer"


# -- Only an outcome is claimed for delivery ----------------------------------------------


@pytest.mark.parametrize("state", ["pending", "active", "cancelled", "submit_failed"])
async def test_a_job_with_no_outcome_to_tell_cannot_be_claimed_for_delivery(
    tmp_path: Path, store_backend: str, state: str
) -> None:
    """The tracker hands `_finish` the job a compare-and-set returned, and a set that did
    not match returns the job as another process left it: `set_resolution` on a lost
    create that the other process's create answer has just made `active` (a rolling
    deploy on a relay that can't list jobs), or `mark_expired` on a job its member has
    just cancelled. `claim_delivery` took any state, so the tracker posted a running or
    cancelled job's "outcome": the failure notice, worded for a job that failed."""
    from tests.backends import open_store, store_sql
    from tests.test_store import new_job

    store = await open_store(store_backend, tmp_path)
    try:
        job = await store.create_job(new_job())
        await store_sql(store, "UPDATE jobs SET state = ? WHERE id = ?", state, job.id)
        assert await store.claim_delivery(job.id, 60) is None
        # Still looking for a lost create: nothing to tell yet either; found out, there is.
        await store_sql(store, "UPDATE jobs SET state = 'uncertain' WHERE id = ?", job.id)
        assert await store.claim_delivery(job.id, 60) is None
        await store.set_resolution(job.id, "unlistable")
        claimed = await store.claim_delivery(job.id, 60)
        assert claimed is not None and claimed.delivery_owner == store.owner
    finally:
        await store.close()


async def test_a_lease_holds_on_the_databases_clock_whatever_a_hosts_clock_says(
    tmp_path: Path, store_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Process A's host clock is an hour slow. Had A's lease been written on its own clock,
    it would have run out an hour before it was taken, and B would deliver too."""
    from bot.store.jobs import Store as StoreClass
    from tests.backends import open_store, store_sql
    from tests.test_store import new_job

    a = await open_store(store_backend, tmp_path)
    b = StoreClass(a.db)  # another process's run: an owner of its own, the same database
    try:
        job = await a.create_job(new_job())
        await store_sql(a, "UPDATE jobs SET state = 'completed' WHERE id = ?", job.id)
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() - 3600)
        assert await a.claim_delivery(job.id, 60) is not None
        monkeypatch.setattr(time, "time", real)
        assert await b.claim_delivery(job.id, 60) is None
        assert await a.renew_delivery(job.id, 60)
    finally:
        await a.close()


# -- A double submit under a quota ----------------------------------------------------------


async def test_a_double_submit_under_a_cooldown_is_already_submitted_not_a_refusal(
    tmp_path: Path, store_backend: str
) -> None:
    """`create_job` looked the request key up before taking the guild's quota lock. Two
    submits of one form (a double click, or two processes) both found no job under the
    key, then queued on the lock; on PostgreSQL (READ COMMITTED) the second, once the
    first had committed, counted the first job and was refused for the cooldown, with a
    Fix that opens a new form: after the cooldown, a second video paid for one form.
    (SQLite's `BEGIN IMMEDIATE` holds the file from the look-up on, so it never was.)

    The guild's lock is held here until both submits wait for it: the moment a double
    click gives them when the first is a few statements ahead."""
    from bot.access import QuotaRule
    from bot.store import DuplicateRequest
    from tests.backends import open_store
    from tests.test_store import new_job

    store = await open_store(store_backend, tmp_path)
    rule = QuotaRule(cooldown_seconds=600)
    new = new_job("quick:double")
    try:
        async with store.db.transaction() as tx:
            await tx.lock(f"quota:{new.guild_id}")
            submits = [asyncio.ensure_future(store.create_job(new, quota=rule)) for _ in range(2)]
            if store_backend == "postgres":
                # Both past the look-up, waiting for the lock.
                async def waiting() -> int:
                    return int(
                        await store.db.fetchval(
                            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'"
                            " AND NOT granted"
                        )
                    )

                for _ in range(1000):
                    if await waiting() >= 2:
                        break
                    await asyncio.sleep(0.01)
                else:
                    pytest.fail("the two submits never waited for the lock")
        results = await asyncio.gather(*submits, return_exceptions=True)
        made = [r for r in results if isinstance(r, Job)]
        assert len(made) == 1, results
        assert [type(r) for r in results if not isinstance(r, Job)] == [DuplicateRequest]
        assert len(await store.jobs()) == 1
    finally:
        await store.close()
