"""A create the provider answered whose answer could not be recorded (the database failed
at that moment): the video is made and paid for. The member is never told to try again
(which would pay twice), and the job is followed and delivered.

(Found by a review of the send hold: the member read "Nothing was lost; try again", and
the job stayed pending, followed by nobody until the next start.)"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from bot.i18n import t
from bot.store import Job
from tests.harness import World, followup_text
from tests.test_fix_e2e import reply_buttons
from tests.test_money_e2e import delivered


def failing(world: World, monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """`mark_submitted` fails its first `times` calls as a locked database does."""
    store = world.bot.store
    real = store.mark_submitted
    failed: list[int] = []

    async def locked(job_id: int, video: Any) -> Job:
        if len(failed) < times:
            failed.append(job_id)
            raise sqlite3.OperationalError("database is locked")
        return await real(job_id, video)

    monkeypatch.setattr(store, "mark_submitted", locked)
    return failed


async def test_an_answer_recorded_on_a_second_try_is_a_normal_submit(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = failing(world, monkeypatch, times=1)
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A lighthouse, recorded late."])
    assert len(failed) == 1
    [job] = await world.jobs()
    assert f"Video #{job.id} is queued" in followup_text(sub)
    assert job.state == "active"


@pytest.mark.expected_errors("recording that failed")
async def test_an_answer_that_cant_be_recorded_is_never_offered_again_and_is_delivered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = failing(world, monkeypatch, times=3)  # every try of the submit
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A lighthouse, answered but unrecorded."])
    assert len(failed) == 3
    assert len(world.provider.requests_to("create")) == 1  # made, and paid for
    [job] = await world.jobs()
    said = followup_text(sub)
    assert said.startswith(t("submit.not_recorded", "en-US", job=job.id))
    assert "try again" not in said
    assert reply_buttons(sub) == []  # no Fix: a new form would pay a second time

    # Followed at once, found at the provider by its metadata, and delivered.
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert job.state == "completed"
    assert len(world.provider.requests_to("create")) == 1


@pytest.mark.expected_errors("recording that failed")
async def test_a_draft_whose_answer_cant_be_recorded_stays_submitted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The draft must not reopen: an edit would make a new version, and its Submit a new
    request key, paying for the same storyboard a second time."""
    from tests.test_drafts_e2e import add_shot, current, new_draft, press, reply_of

    draft = await new_draft(world)
    await add_shot(world, draft, world.std.alice, "A lighthouse at night.", "")
    failing(world, monkeypatch, times=3)
    submit = await press(world, draft, "submit", world.std.alice)
    await world.wait_reply(submit)
    [job] = await world.jobs()
    assert reply_of(submit).startswith(t("submit.not_recorded", "en-US", job=job.id))
    assert (await current(world, draft)).state == "submitted"
    # The panel's Submit again makes nothing.
    again = await press(world, draft, "submit", world.std.alice)
    await again.wait_callback()
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    assert len(world.provider.requests_to("create")) == 1
    assert len(await world.jobs()) == 1
