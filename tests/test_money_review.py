"""Sequences a review found that broke the money rules (issue 11), kept as regressions.

Each test failed on the code the review read, and names the rule it guarded. They drive
the real bot through the fake Discord and the fake provider. (Docstrings describe the
defect as it was.)
"""

from __future__ import annotations

import pytest

from tests.fake_provider import Fault
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import SEND, World, followup_text
from tests.test_money_e2e import answered, button_ids, card_of, delivered, press, state_is


def created(world: World) -> int:
    """Jobs the provider really made (refused creates make none)."""
    return len(world.provider.jobs)


# -- A refused paid press can never be tried again ------------------------------------------


async def test_retry_refused_by_the_provider_can_be_pressed_again(world: World) -> None:
    """A 4xx proves nothing was made, so the member may try again: but the second press
    of Retry finds the refused job under the same request key and says "already
    submitted", and the refused job has no card (so no Retry of its own)."""
    world.provider.set_outcome(None, "fail", message="Upstream busy.")
    job = await world.submitted_job("A failing fox.")
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    await world.wait_until(
        lambda: f"sb:retry:{job.id}" in button_ids(card_of(world, job.card_message_id))
    )
    world.provider.set_outcome(None, "complete")
    # The admin's key was revoked at the relay for a moment: a 401, nothing created.
    world.provider.inject(Fault(route="create", kind="status", status=401))
    first = await press(world, job.card_message_id or 0, f"sb:retry:{job.id}")
    await answered(world, first)
    before = created(world)
    # The key works again; the member presses Retry again on the same card.
    second = await press(world, job.card_message_id or 0, f"sb:retry:{job.id}")
    text = await answered(world, second)
    assert "already submitted" not in text, text
    assert created(world) == before + 1


async def test_confirmed_resubmit_refused_by_the_provider_can_be_confirmed_again(
    world: World,
) -> None:
    """Same key problem on the confirm step: a refused resubmit leaves the uncertain job
    with a Resubmit that forever answers "already submitted"."""
    world.provider.list_route = False
    world.provider.inject(Fault(route="create", kind="status", status=502))
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A paper boat."])
    [job] = await world.jobs()
    await world.wait_until(lambda: delivered(world, job.id))
    warning = await press(world, job.card_message_id or 0, f"sb:resubmit:{job.id}")
    confirm = warning.original_message
    assert confirm is not None
    world.provider.inject(Fault(route="create", kind="status", status=401))
    first = await press(world, confirm, f"sb:confirm:{job.id}")
    await answered(world, first)
    before = created(world)
    again = await press(world, job.card_message_id or 0, f"sb:resubmit:{job.id}")
    second = await press(world, again.original_message or confirm, f"sb:confirm:{job.id}")
    text = await answered(world, second)
    assert "already submitted" not in text, text
    assert created(world) == before + 1


async def test_create_character_button_refused_by_the_provider_can_be_pressed_again(
    world: World,
) -> None:
    """The Create character button under a video uses one key per video: after one
    refusal (a 429 or 4xx, proof that nothing was made) the button is dead for good."""
    video = await world.submitted_job("A friendly robot waves.")
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, video.id))
    delivery = next(c for c in world.fd.calls_to(SEND) if c.files)
    message = int(delivery.response["id"])
    world.provider.inject(Fault(route="create", kind="status", status=401))
    first = await world.fd.press_button(message, f"sb:character:{video.id}", user=world.std.alice)
    await world.wait_reply(first)
    assert "refused" in followup_text(first)
    before = created(world)
    second = await world.fd.press_button(message, f"sb:character:{video.id}", user=world.std.alice)
    await world.wait_reply(second)
    text = followup_text(second)
    assert "already submitted" not in text, text
    assert created(world) == before + 1


# -- A stop during a draft's create reopens the draft ---------------------------------------


async def test_a_stop_during_a_draft_submit_does_not_reopen_the_draft(world: World) -> None:
    """The stop cancels a submission still in flight; the job stays `pending` (it may exist
    at the provider) but `DraftService.submit` catches the CancelledError as BaseException
    and reopens the draft. After the restart the first job is found and delivered, and the
    open draft's Submit pays a second time."""
    import asyncio

    from tests.test_drafts_e2e import add_shot, new_draft
    from tests.test_drafts_e2e import press as press_panel

    draft = await new_draft(world)
    await add_shot(world, draft, world.std.alice, "A lighthouse at night.")
    draft = await world.bot.store.drafts.get(draft.id)
    # The relay takes its time but carries the create out.
    world.provider.inject(Fault(route="create", kind="slow", delay=1.0))
    submit = await press_panel(world, draft, "submit", world.std.alice)
    await world.wait_until(
        lambda: len(world.provider.requests_to("create")) == 1 or followup_text(submit)
    )
    assert len(world.provider.requests_to("create")) == 1, followup_text(submit)
    # A stop (docker stop) with little of its budget left: the submission is cut off.
    world.bot.stop_by(asyncio.get_running_loop().time() + 1.6)
    await world.restart()
    await world.wait_until(lambda: created(world) == 1)
    await world.wait_until(lambda: state_is(world, 1, "active"))
    after = await world.bot.store.drafts.get(draft.id)
    assert after.state == "submitted"
    again = await press_panel(world, after, "submit", world.std.alice)
    await again.wait_callback()
    said = await answered(world, again)
    # The first job is alive at the provider: the draft is locked, nothing paid twice.
    assert len(world.provider.requests_to("create")) == 1, (after.state, said)
    assert "already submitted" in said


# -- Retry-After: 0 on a poll makes the tracker spin -----------------------------------------


async def test_a_429_with_retry_after_zero_does_not_make_the_tracker_spin(world: World) -> None:
    """`Tracker._look` books the next look `Retry-After` seconds away, with no floor: a
    relay answering 429 with `Retry-After: 0` gets 4 requests per step and a new step at
    once, as fast as the key's pacer lets them (the whole key's budget, for one job)."""
    import asyncio

    config = world.config_with(
        tracking={"poll_min_seconds": 2.0, "poll_max_seconds": 4.0},
    )
    await world.restart(config)
    await world.submitted_job("A patient fox.")
    await asyncio.sleep(0.5)
    world.provider.inject(
        Fault(route="retrieve", kind="status", status=429, retry_after=0, window=600)
    )
    before = len(world.provider.requests_to("retrieve"))
    await asyncio.sleep(2.0)
    asked = len(world.provider.requests_to("retrieve")) - before
    # Polling every 2 s at the least: at most two looks of 4 attempts fit in 2 s.
    assert asked <= 10, f"{asked} polls in 2 s"


# -- A key rotated across a restart turns running paid jobs into "failed" -------------------


async def test_a_key_rotated_with_a_restart_does_not_fail_running_jobs(world: World) -> None:
    """The old key is held only in memory (`VideoApi._keys`): after an admin rotates the
    guild's key and restarts, polls use the new key, the relay answers 404 for the old
    key's task, and the job is marked lost ("failed") with Retry on its card, while the
    video is still being made (and charged) on the old key. Pressing Retry pays twice."""

    job = await world.submitted_job("Made with the old key.")
    new_key = "sk-guild-a-rotated"
    world.provider.keys = world.provider.keys | {new_key}  # the old key stays valid
    guilds = {str(world.std.guild.id): {"api_key": new_key}}
    config = world.config_with(guilds=guilds)
    await world.restart(config)
    world.provider.advance(3600)  # the video is finished at the provider
    # The new key can't see the task: its 404s say nothing about the job, never "lost".
    await world.wait_until(
        lambda: len([r for r in world.provider.requests_to("retrieve") if r.status == 404]) >= 5
    )
    job = await world.job(job.id)
    assert (job.state, job.error_key) == ("active", None)
    assert button_ids(card_of(world, job.card_message_id)) == [
        f"sb:cancel:{job.id}",
        f"sb:details:{job.id}",
    ]
    # The admin lists the old key as a previous one: the job is followed to its end.
    guilds[str(world.std.guild.id)]["previous_api_keys"] = [GUILD_A_KEY]
    world.bot.config = world.config_with(guilds=guilds)
    world.bot.tracker.watch(job.id)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert job.state == "completed", (job.state, job.error_key)


# -- A delivery failing with an unforeseen error loops for ever --------------------------------


async def test_a_delivery_that_fails_with_a_disk_error_still_ends_with_a_notice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only `discord.HTTPException` and `VideoApiError` count as delivery failures. A full
    disk (OSError while the video is written to a temp file) escapes `Deliverer.deliver`,
    `Tracker._work` logs it and looks again after `poll_max_seconds`, for ever: no backoff,
    `delivery_failures` never counts, `delivery_give_up_hours` never ends it, no notice."""
    import errno

    import cogs.delivery

    config = world.config_with(
        tracking={"delivery_give_up_hours": 0.0003, "delivery_retry_max_minutes": 0.005},
    )
    await world.restart(config)
    job = await world.submitted_job("A video for a full disk.")

    def full_disk(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cogs.delivery.tempfile, "TemporaryDirectory", full_disk)
    world.provider.advance(3600)
    await world.wait_until(lambda: state_is(world, job.id, "completed"))
    # delivery_give_up_hours is about a second here: well past it, the member is told.
    await world.wait_until(lambda: delivered(world, job.id), within=6)


# -- A finished, paid video whose thread is gone: the member hears nothing -------------------


async def test_a_video_whose_thread_was_deleted_still_reaches_the_member(world: World) -> None:
    """`Deliverer.deliver` posts only in the job's thread; a 404 there (a moderator deleted
    the thread) is "permanent" and the job closes with no notice anywhere: the paid video
    is never posted, though the card's channel is still there to say so."""
    job = await world.submitted_job("A video for a deleted thread.")
    assert job.thread_id is not None and job.card_channel_id != job.thread_id
    world.fd.fail_next(
        f"POST /channels/{job.thread_id}/messages",
        status=404,
        code=10003,
        message="Unknown Channel",
        times=100,
    )
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    told = [
        c
        for c in world.fd.calls_to(SEND)
        if c.status == 200
        and c.params["channel_id"] != str(job.thread_id)
        and f"<@{world.std.alice.id}>" in str(c.json.get("content", ""))
    ]
    assert told, f"no notice outside the deleted thread; delivery_error={job.delivery_error!r}"


# -- One 404 from the list route gives up on every lost create ------------------------------


async def test_one_404_from_the_list_route_does_not_stop_the_lookup(world: World) -> None:
    """`list_videos` takes a single 404/405 as "this relay has no list route" and remembers
    it for the whole process (`_lists_missing`): a relay hiccup on the first lookup marks
    the lost create `unlistable` at once, the member is offered a paid resubmit, and the
    job that does exist is never found."""
    world.provider.inject(Fault(route="create", kind="accept_then_status", status=502))
    world.provider.inject(Fault(route="list", kind="status", status=404, times=1))
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A lighthouse in a storm."])
    [job] = await world.jobs()

    async def settled() -> bool:
        return await state_is(world, job.id, "active") or await delivered(world, job.id)

    await world.wait_until(settled)
    job = await world.job(job.id)
    assert (job.state, job.resolution) == ("active", None), (job.state, job.resolution)
