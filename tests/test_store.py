"""The store on a real database (each backend: `--store`): jobs, duplicates, reopening;
SQLite's own file: its schema version, WAL, and upgrades from older files."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.profiles import RELAY
from bot.store import DuplicateRequest, NewJob, Store
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.videos_api import ReferenceImage, VideoJob
from tests.backends import open_store

MIGRATIONS = len(
    list(
        (Path(__file__).resolve().parents[1] / "bot" / "store" / "migrations" / "sqlite").glob(
            "*.sql"
        )
    )
)
BOARD = validate_storyboard(
    Storyboard(
        shots=(Shot(scene="a door opens", author_id=5), Shot(scene="a cat", duration=5)),
        settings=StoryboardSettings(model="sora-2", seconds=10),
    ),
    RELAY,
    models=["sora-2"],
)


def new_job(key: str = "quick:1", image: ReferenceImage | None = None) -> NewJob:
    return NewJob(
        request_key=key,
        guild_id=10,
        channel_id=20,
        user_id=30,
        locale="zh-CN",
        public_locale="en-US",
        storyboard=BOARD,
        image=image,
        filesize_limit=10 * 1024 * 1024,
    )


async def test_schema_version_and_wal(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    await store.close()
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


async def test_a_job_survives_reopening_with_everything_it_was_given(
    tmp_path: Path, store_backend: str
) -> None:
    image = ReferenceImage(filename="ref.png", content_type="image/png", data=b"\x89PNG...")
    store = await open_store(store_backend, tmp_path)
    job = await store.create_job(new_job(image=image))
    assert (job.state, job.task_id, job.image_name) == ("pending", None, "ref.png")
    video = VideoJob(
        id="sora-2:task_x", status="queued", model="sora-2", seconds="10", size="1280x720"
    )
    await store.mark_submitted(job.id, video)
    await store.close()

    store = await open_store(store_backend, tmp_path)
    again = await store.job(job.id)
    assert again.state == "active"
    assert again.task_id == "sora-2:task_x"
    assert again.provider_answer is not None
    assert again.provider_answer["size"] == "1280x720"
    assert again.storyboard == BOARD
    assert again.storyboard.shots[0].author_id == 5
    assert await store.job_image(job.id) == image
    assert await store.job_by_task("sora-2:task_x") == again
    await store.close()


async def test_the_same_request_key_makes_one_job_even_when_concurrent(
    tmp_path: Path, store_backend: str
) -> None:
    store = await open_store(store_backend, tmp_path)
    results = await asyncio.gather(
        *(store.create_job(new_job("quick:same")) for _ in range(5)), return_exceptions=True
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    dups = [r for r in results if isinstance(r, DuplicateRequest)]
    assert len(made) == 1
    assert len(dups) == 4
    assert {d.job_id for d in dups} == {made[0].id}
    assert len(await store.jobs()) == 1
    await store.close()


async def test_failed_and_uncertain_submissions_keep_the_reason(
    tmp_path: Path, store_backend: str
) -> None:
    store = await open_store(store_backend, tmp_path)
    a = await store.create_job(new_job("k:a"))
    b = await store.create_job(new_job("k:b"))
    failed = await store.mark_submit_failed(a.id, "provider.rejected", {"message": "bad prompt"})
    unsure = await store.mark_uncertain(b.id, "ServerDisconnectedError")
    assert (failed.state, failed.error_key, failed.error_fields) == (
        "submit_failed",
        "provider.rejected",
        {"message": "bad prompt"},
    )
    assert unsure.state == "uncertain"
    with pytest.raises(KeyError):
        await store.job(999)
    await store.close()


async def test_meta_round_trip(tmp_path: Path, store_backend: str) -> None:
    store = await open_store(store_backend, tmp_path)
    assert await store.get_meta("commands_hash:global") is None
    await store.set_meta("commands_hash:global", "abc")
    assert await store.get_meta("commands_hash:global") == "abc"
    await store.close()


async def test_a_job_keeps_the_servers_language_apart_from_the_members(
    tmp_path: Path, store_backend: str
) -> None:
    store = await open_store(store_backend, tmp_path)
    try:
        job = await store.create_job(new_job())
        assert (job.locale, job.public_locale) == ("zh-CN", "en-US")
    finally:
        await store.close()


async def test_jobs_stored_before_public_locale_keep_the_language_they_were_shown_in(
    tmp_path: Path,
) -> None:
    """Their cards were written in the requester's language: edits stay in it."""
    path = tmp_path / "db.sqlite3"
    store = await Store.open(path)
    job = await store.create_job(new_job())
    await store.close()
    with sqlite3.connect(path) as db:  # back to the schema before 0009 (and what came after)
        db.executescript(
            "ALTER TABLE jobs DROP COLUMN send_owner; ALTER TABLE jobs DROP COLUMN send_lease_until;"
            " ALTER TABLE jobs DROP COLUMN public_locale;"
            " ALTER TABLE jobs DROP COLUMN delivery_owner;"
            " ALTER TABLE jobs DROP COLUMN delivery_lease_until;"
            " DROP TABLE key_pacers; DROP TABLE draft_previews; PRAGMA user_version = 8;"
        )
    db.close()
    store = await Store.open(path)
    try:
        assert (await store.job(job.id)).public_locale == "zh-CN"
    finally:
        await store.close()
