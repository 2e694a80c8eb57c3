"""What the card adds to a job's row (issue 12), unit level on a real store: the
place in the server's queue, the estimate and its fallbacks, and how the card says them."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.card_facts import CardFacts, Estimate, card_facts, estimate_for
from bot.profiles import RELAY
from bot.store import Job, NewJob, Store
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.thumbnails import name_for
from bot.videos_api import VideoJob
from cogs.job_card import ordinal, progress_line
from tests.backends import open_store, store_sql
from tests.fake_provider.media import fake_jpeg, fake_mp4, fake_webp
from tests.harness import png_bytes

GUILD, OTHER = 10, 11
_serial = itertools.count(1)


@pytest_asyncio.fixture
async def store(tmp_path: Path, store_backend: str) -> AsyncIterator[Store]:
    opened: Store = await open_store(store_backend, tmp_path)
    yield opened
    await opened.close()


def board(model: str = "sora-2", seconds: int = 10) -> object:
    return validate_storyboard(
        Storyboard(
            shots=(Shot(scene="a kite rises"),),
            settings=StoryboardSettings(model=model, seconds=seconds),
        ),
        RELAY,
        models=["sora-2", "sora-2-pro"],
    )


async def new_job(store: Store, guild: int | None = GUILD, **settings: object) -> Job:
    n = next(_serial)
    return await store.create_job(
        NewJob.model_validate(
            {
                "request_key": f"quick:{n}",
                "guild_id": guild,
                "channel_id": 20,
                "user_id": 30,
                "locale": "en-US",
                "public_locale": "en-US",
                "storyboard": board(**settings),  # type: ignore[arg-type]
                "filesize_limit": 10 * 1024 * 1024,
            }
        )
    )


def video(job: Job, status: str, progress: int = 0) -> VideoJob:
    return VideoJob(
        id=f"task_{job.id}", status=status, progress=progress, model="sora-2", seconds="10"
    )


async def queued(store: Store, guild: int | None = GUILD) -> Job:
    job = await new_job(store, guild)
    return await store.mark_submitted(job.id, video(job, "queued"))


async def running(store: Store) -> Job:
    job = await queued(store)
    return await store.record_poll(job.id, video(job, "in_progress", 10))


async def finished(store: Store, took: float, guild: int = GUILD, **settings: object) -> Job:
    """A delivered video that took `took` seconds from submission to its end."""
    job = await new_job(store, guild, **settings)
    await store.mark_submitted(job.id, video(job, "queued"))
    done = await store.record_poll(job.id, video(job, "completed", 100))
    assert done.finished_at is not None
    await store_sql(
        store, "UPDATE jobs SET submitted_at = ? WHERE id = ?", done.finished_at - took, job.id
    )
    return await store.mark_delivered(job.id)


async def test_the_place_counts_this_servers_waiting_jobs_made_before_it(store: Store) -> None:
    first = await queued(store)
    await queued(store, OTHER)  # another server's: not in this queue
    creating = await new_job(store)  # its create is on its way: it waits too
    await running(store)  # no longer waits
    done = await queued(store)
    await store.record_poll(done.id, video(done, "completed", 100))
    mine = await queued(store)
    after = await queued(store)  # made after: behind, not ahead
    assert await store.queue_place(GUILD, first.id) == 1
    assert await store.queue_place(GUILD, creating.id) == 2
    assert await store.queue_place(GUILD, mine.id) == 3
    assert await store.queue_place(GUILD, after.id) == 4
    assert (await card_facts(store, mine, 0.0)).queue_place == 3


async def test_a_running_job_is_estimated_from_the_median_of_this_servers_like_jobs(
    store: Store,
) -> None:
    for took in (100, 300, 200):
        await finished(store, took)
    await finished(store, 5, seconds=15)  # another length
    await finished(store, 5, model="sora-2-pro")  # another model
    await finished(store, 9000, OTHER)  # another server's, not needed here
    job = await queued(store)
    job = await store.record_poll(job.id, video(job, "in_progress", 30))
    assert job.submitted_at is not None
    estimate = await estimate_for(store, job, now=job.submitted_at + 10)
    assert estimate == Estimate(done_at=job.submitted_at + 200, typical=200, overdue=False)
    late = await estimate_for(store, job, now=job.submitted_at + 201)
    assert late is not None and late.overdue
    assert (await card_facts(store, job, job.submitted_at)).estimate == estimate


async def test_the_estimate_reads_only_the_last_twenty(store: Store) -> None:
    for _ in range(20):
        await finished(store, 60)
    await store_sql(  # an hour earlier, each as long as it was
        store,
        "UPDATE jobs SET submitted_at = submitted_at - 3600, finished_at = finished_at - 3600",
    )
    for _ in range(20):
        await finished(store, 600)
    job = await running(store)
    estimate = await estimate_for(store, job, now=0.0)
    assert estimate is not None and estimate.typical == 600


async def test_a_server_with_too_few_borrows_the_bots_and_too_few_anywhere_says_nothing(
    store: Store,
) -> None:
    await finished(store, 100)
    await finished(store, 300, OTHER)
    job = await running(store)
    assert await estimate_for(store, job, now=0.0) is None  # two in all
    await finished(store, 700, OTHER)
    estimate = await estimate_for(store, job, now=0.0)
    assert estimate is not None and estimate.typical == 300  # median of 100, 300, 700


@pytest.mark.parametrize(
    ("n", "english"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_places_in_both_languages(n: int, english: str) -> None:
    assert ordinal(n, "en-US") == english
    assert ordinal(n, "zh-CN") == f"第 {n} 位"


async def test_the_card_lines_in_both_languages(store: Store) -> None:
    job = await queued(store)
    stamp = int(job.submitted_at or 0)
    assert progress_line(job, "en-US", CardFacts(queue_place=1)) == (
        f"Queued · submitted <t:{stamp}:R>"
    )
    assert progress_line(job, "en-US", CardFacts(queue_place=3)) == (
        f"Queued · 3rd in this server's queue · submitted <t:{stamp}:R>"
    )
    assert progress_line(job, "zh-CN", CardFacts(queue_place=3)) == (
        f"排队中 · 本服务器队列第 3 位 · <t:{stamp}:R>提交"
    )
    started_job = await store.record_poll(job.id, video(job, "in_progress", 40))
    soon = CardFacts(estimate=Estimate(done_at=stamp + 240.4, typical=240.4, overdue=False))
    late = CardFacts(estimate=Estimate(done_at=stamp + 240.4, typical=240.4, overdue=True))
    started = int(started_job.started_at or 0)
    bar = f"▰▰▰▰▱▱▱▱▱▱ 40 % · started <t:{started}:R>"
    assert progress_line(started_job, "en-US", soon) == (
        f"{bar} · likely done <t:{stamp + 240}:R> (estimate)"
    )
    assert progress_line(started_job, "en-US", late) == (
        f"{bar} · taking longer than usual (usually about 4 min)"
    )
    assert progress_line(started_job, "zh-CN", soon) == (
        f"▰▰▰▰▱▱▱▱▱▱ 40 % · <t:{started}:R>开始 · 预计<t:{stamp + 240}:R>完成"
    )
    assert progress_line(started_job, "zh-CN", late) == (
        f"▰▰▰▰▱▱▱▱▱▱ 40 % · <t:{started}:R>开始 · 比平时慢（通常约 4 分钟）"
    )
    assert progress_line(started_job, "en-US") == bar  # no estimate: nothing made up


def test_a_thumbnail_is_named_for_what_it_is() -> None:
    assert name_for(fake_webp("x")) == "thumbnail.webp"
    assert name_for(fake_jpeg("x")) == "thumbnail.jpg"
    assert name_for(png_bytes()) == "thumbnail.png"
    assert name_for(fake_mp4(1024, "x")) is None  # a relay that sends the video instead
    assert name_for(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    assert name_for(b"") is None


async def test_jobs_stored_before_the_model_column_get_theirs(tmp_path: Path) -> None:
    """An upgrade of an older SQLite file, so on SQLite only."""
    path = tmp_path / "db.sqlite3"
    store = await open_store("sqlite", tmp_path)
    job = await finished(store, 120, model="sora-2-pro")
    await store.close()
    with sqlite3.connect(path) as db:  # back to the schema before 0006 (and what came after)
        db.executescript(
            "ALTER TABLE jobs DROP COLUMN send_owner; ALTER TABLE jobs DROP COLUMN send_lease_until;"
            " DROP TABLE draft_previews; ALTER TABLE jobs DROP COLUMN delivery_owner;"
            " ALTER TABLE jobs DROP COLUMN delivery_lease_until; DROP TABLE key_pacers;"
            " ALTER TABLE jobs DROP COLUMN public_locale;"
            " DROP INDEX jobs_durations; DROP INDEX jobs_guild_durations;"
            " ALTER TABLE jobs DROP COLUMN model; ALTER TABLE jobs DROP COLUMN progress_message_id;"
            " DROP TABLE form_echoes; DROP TABLE job_stills; PRAGMA user_version = 5;"
        )
    db.close()
    store = await Store.open(path)
    try:
        assert await store.recent_durations(model="sora-2-pro", seconds=10) == [120.0]
        assert (await store.job(job.id)).progress_message_id is None
    finally:
        await store.close()
