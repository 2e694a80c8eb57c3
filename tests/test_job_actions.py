"""Which buttons a job offers in each state (`bot.job_actions`), and its open-jobs query."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.job_actions import actions_for, request_key_for
from bot.profiles import OPENAI, RELAY, SANDBOX
from bot.store import Store
from bot.videos_api import VideoJob
from tests.backends import open_store
from tests.test_store import new_job


async def job_in(tmp_path: Path, **fields: Any) -> Any:
    """A job as the store makes it (on SQLite: these tests are about the buttons)."""
    store = await Store.open(tmp_path / f"db-{uuid.uuid4().hex}.sqlite3")
    try:
        job = await store.create_job(new_job())
        return job.model_copy(update=fields)
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"state": "pending"}, ("details",)),
        ({"state": "active"}, ("cancel", "details")),
        ({"state": "completed"}, ("remix", "details", "character")),
        ({"state": "failed"}, ("retry", "remix", "details")),
        ({"state": "submit_failed"}, ("retry", "remix", "details")),
        ({"state": "cancelled"}, ("retry", "remix", "details")),
        ({"state": "uncertain"}, ("details",)),  # still looking: nothing may pay again
        ({"state": "uncertain", "resolution": "unlistable"}, ("resubmit", "details")),
        ({"state": "uncertain", "resolution": "not_found"}, ("resubmit", "details")),
        ({"state": "expired"}, ("resubmit", "details")),
        ({"state": "completed", "kind": "character"}, ("details",)),
        ({"state": "failed", "kind": "character"}, ("retry", "details")),
        ({"state": "active", "kind": "character"}, ("cancel", "details")),
    ],
)
async def test_actions_follow_the_state(
    tmp_path: Path, fields: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert actions_for(await job_in(tmp_path, **fields), RELAY) == expected


@pytest.mark.parametrize(
    ("fields", "in_sandbox", "moved_to_relay"),
    [
        ({"state": "cancelled"}, ("retry", "remix", "details"), ("remix", "details")),
        ({"state": "completed"}, ("remix", "details"), ("remix", "details")),
        ({"state": "expired"}, ("resubmit", "details"), ("details",)),
        # Cut off before its task id: known by the fingerprint it was stored with.
        (
            {"state": "uncertain", "resolution": "unlistable", "task_id": None},
            ("resubmit", "details"),
            ("details",),
        ),
    ],
)
async def test_a_free_previews_card_never_pays_in_a_server_that_now_pays(
    tmp_path: Path,
    fields: dict[str, Any],
    in_sandbox: tuple[str, ...],
    moved_to_relay: tuple[str, ...],
) -> None:
    fields = {"task_id": "sandbox-1796270000000-20000-0123456789abcdef", **fields}
    job = await job_in(tmp_path, key_fingerprint="sandbox", **fields)
    assert actions_for(job, SANDBOX) == in_sandbox
    assert actions_for(job, RELAY) == moved_to_relay


async def test_a_profile_that_cannot_delete_or_make_characters_offers_neither(
    tmp_path: Path,
) -> None:
    no_delete = OPENAI.model_copy(update={"delete_path": None})
    assert actions_for(await job_in(tmp_path, state="active"), no_delete) == ("details",)
    assert actions_for(await job_in(tmp_path, state="completed"), OPENAI) == ("remix", "details")


async def test_a_paid_action_on_one_job_always_makes_the_same_request_key(
    tmp_path: Path,
) -> None:
    job = await job_in(tmp_path, state="failed")
    assert request_key_for("retry", job) == request_key_for("retry", job) == f"retry:{job.id}"
    assert request_key_for("resubmit", job) != request_key_for("retry", job)


async def test_open_jobs_are_the_ones_still_followed(tmp_path: Path, store_backend: str) -> None:
    store = await open_store(store_backend, tmp_path)
    try:
        looking = await store.create_job(new_job("k:1"))
        await store.mark_uncertain(looking.id, "HTTP 524")
        unlistable = await store.create_job(new_job("k:2"))
        await store.mark_uncertain(unlistable.id, "HTTP 524", "unlistable")
        await store.mark_delivered(unlistable.id)
        expired = await store.create_job(new_job("k:3"))
        await store.mark_submitted(expired.id, VideoJob(id="t3", status="queued"))
        await store.mark_expired(expired.id, 60)
        await store.mark_delivered(expired.id)
        assert await store.open_job_ids() == [looking.id, expired.id]
        # An expired job that finishes late is undelivered again: its video is still owed.
        late = await store.record_poll(expired.id, VideoJob(id="t3", status="completed"))
        assert (late.state, late.delivered_at) == ("completed", None)
        await store.set_resolution(looking.id, "not_found")
        assert await store.open_job_ids() == [looking.id, expired.id]  # the notice is owed
        await store.mark_delivered(looking.id)
        await store.mark_delivered(expired.id)
        assert await store.open_job_ids() == []
    finally:
        await store.close()


async def test_the_mark_of_an_earlier_post_is_this_job_s_not_a_longer_number(
    tmp_path: Path,
) -> None:
    from cogs.delivery import marker

    job = await job_in(tmp_path, state="uncertain", resolution="unlistable")
    assert job.id == 1
    me = f"<@{job.user_id}>"
    assert marker(job).search(f"{me} I can't know whether the video service started video #1: ...")
    assert marker(job).search(f"{me} 你的视频 #1 已完成（10 秒，sora-2，3.1 MB）。")
    assert not marker(job).search(f"{me} I can't know whether it started video #12: ...")
    # The thread's progress message names the video too, but is to no one: not a delivery.
    assert not marker(job).search("Progress of video #1: ▰▰▱▱▱▱▱▱▱▱ 25 %")
    # Nor is a message to another member.
    assert not marker(job).search("<@999> your video #1 is ready (10 s, sora-2, 3.1 MB).")
    # The task id alone no longer marks it: members read the video's number, not the id.
    with_task = job.model_copy(update={"task_id": "task_1"})
    assert not marker(with_task).search("Task `task_1`.")


async def test_a_refusal_never_overwrites_a_job_that_was_found(
    tmp_path: Path, store_backend: str
) -> None:
    store = await open_store(store_backend, tmp_path)
    try:
        job = await store.create_job(new_job("k:found"))
        await store.mark_uncertain(job.id, "HTTP 524")
        await store.mark_submitted(job.id, VideoJob(id="t-found", status="queued"))
        late = await store.mark_submit_failed(job.id, "provider.rejected", {"message": "late"})
        assert (late.state, late.task_id) == ("active", "t-found")
    finally:
        await store.close()
