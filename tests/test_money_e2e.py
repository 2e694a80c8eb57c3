"""Every paid job followed to its end: never paid twice, never lost (issue 11, points 1-8).

Each test drives the real bot through the fake Discord and the fake provider, and
asserts what the member sees and what the provider was asked to create.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fake_discord import InteractionHandle, RecordedCall
from tests.fake_provider import Fault
from tests.harness import SEND, World, followup_text

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
CLOUDFLARE_524 = "<html><body><h1>524</h1>A timeout occurred. cloudflare</body></html>"


def posts_in(world: World, channel_id: int | None) -> list[RecordedCall]:
    return [c for c in world.fd.calls_to(SEND) if c.params["channel_id"] == str(channel_id)]


def texts_in(world: World, channel_id: int | None) -> list[str]:
    return [str(c.json.get("content", "")) for c in posts_in(world, channel_id)]


def button_ids(message: dict[str, Any]) -> list[str]:
    """The custom ids of a message's buttons (a link button is named by its URL)."""
    return [
        str(b.get("custom_id") or b["url"])
        for row in message.get("components", [])
        for b in row.get("components", [])
        if b.get("type") == 2
    ]


def card_of(world: World, message_id: int | None) -> dict[str, Any]:
    assert message_id is not None
    return world.fd.world.messages[message_id]


def answer_text(ix: InteractionHandle) -> str:
    data = (ix.callback or {}).get("data") or {}
    return str(data.get("content", "")) + followup_text(ix)


async def state_is(world: World, job_id: int, *states: str) -> bool:
    return (await world.job(job_id)).state in states


async def delivered(world: World, job_id: int) -> bool:
    return (await world.job(job_id)).delivered_at is not None


async def press(
    world: World, message: dict[str, Any] | int, custom_id: str, *, stale: bool = False
) -> InteractionHandle:
    ix = await world.fd.press_button(message, custom_id, user=world.std.alice, stale=stale)
    await ix.wait_callback()
    return ix


async def answered(world: World, ix: InteractionHandle) -> str:
    """What the member read: the callback itself, or the followup after a deferral."""
    assert ix.callback is not None
    if ix.callback["type"] == 5:  # deferred: the answer is a followup
        await world.wait_reply(ix)
    return answer_text(ix)


# -- 1. A 5xx on create is not a "no" ------------------------------------------------------


async def test_a_5xx_after_the_relay_accepted_is_found_and_delivered_not_paid_twice(
    world: World,
) -> None:
    world.provider.inject(
        Fault(
            route="create",
            kind="accept_then_status",
            status=524,
            body=CLOUDFLARE_524,
            content_type="text/html",
        )
    )
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A lighthouse in a storm."])
    said = followup_text(sub)
    assert "I did not send it again" in said
    assert "not submitted" not in said
    assert "<html>" not in said
    [job] = await world.jobs()
    # Found by its own id in `metadata`, then followed like any job.
    await world.wait_until(lambda: state_is(world, job.id, "active"))
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert job.state == "completed"
    assert [t for t in texts_in(world, job.thread_id) if f"your video #{job.id} is ready" in t]
    assert len(world.provider.requests_to("create")) == 1


# -- 2. Uncertain jobs are resolved until they are known -----------------------------------


async def test_a_job_that_registers_late_is_found_by_a_later_look(world: World) -> None:
    # The create answers after the client gave up (2 s), and the relay lists the job only a
    # minute later on its own clock.
    world.provider.hide_new_jobs(60)
    world.provider.inject(Fault(route="create", kind="slow", delay=2.5))
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A late train."])
    [job] = await world.jobs()
    assert job.state == "uncertain"
    # Several looks find nothing; the job stays uncertain, still looked for.
    await world.wait_until(lambda: len(world.provider.jobs) == 1)  # the slow create landed
    lists = len(world.provider.requests_to("list"))
    await world.wait_until(lambda: len(world.provider.requests_to("list")) >= lists + 3)
    assert await state_is(world, job.id, "uncertain")
    world.provider.advance(61)
    await world.wait_until(lambda: state_is(world, job.id, "active"))
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    assert (await world.job(job.id)).state == "completed"
    assert len(world.provider.requests_to("create")) == 1


async def test_a_provider_without_a_list_route_is_told_plainly_and_resubmit_needs_a_yes(
    world: World,
) -> None:
    world.provider.list_route = False
    world.provider.inject(Fault(route="create", kind="accept_then_status", status=502))
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A paper boat."])
    [job] = await world.jobs()
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert (job.state, job.resolution) == ("uncertain", "unlistable")
    [notice] = [t for t in texts_in(world, job.thread_id) if f"#{job.id}" in t]
    assert "can't know whether the video service started" in notice
    assert "paying twice" in notice
    # The card offers only Details and a resubmit behind a confirmation.
    await world.wait_until(
        lambda: (
            button_ids(card_of(world, job.card_message_id))
            == [f"sb:resubmit:{job.id}", f"sb:details:{job.id}"]
        )
    )
    lists = len(world.provider.requests_to("list"))
    assert lists == 3  # three 404s in a row make "no list route", then remembered
    warning = await press(world, job.card_message_id or 0, f"sb:resubmit:{job.id}")
    assert warning.callback is not None
    assert "could pay twice" in warning.callback["data"]["content"]
    assert len(world.provider.requests_to("create")) == 1  # asking is free
    confirm = warning.original_message
    assert confirm is not None
    first = await press(world, confirm, f"sb:confirm:{job.id}")
    await world.wait_reply(first)
    second = await press(world, confirm, f"sb:confirm:{job.id}")
    text = await answered(world, second)
    assert "already submitted" in text
    assert len(world.provider.requests_to("create")) == 2
    # The next uncertain create on this relay says so at once, without looking again.
    world.provider.inject(Fault(route="create", kind="accept_then_status", status=504))
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["Another paper boat."])
    assert "can't be asked about earlier videos" in followup_text(sub)
    assert len(world.provider.requests_to("list")) == lists


async def test_a_job_never_found_is_offered_again_only_after_the_horizon(
    world: World, tmp_path: Any
) -> None:
    config = world.config_with(tracking={"resolve_hours": 0.0005})
    await world.restart(config)
    # A 503 before the relay did anything: nothing to find, but the bot can't know that.
    world.provider.inject(Fault(route="create", kind="status", status=503))
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A quiet pond."])
    assert "I did not send it again" in followup_text(sub)
    [job] = await world.jobs()
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert (job.state, job.resolution) == ("uncertain", "not_found")
    assert job.looks >= 2
    assert any("never found it" in t for t in texts_in(world, job.thread_id))
    assert len(world.provider.requests_to("create")) == 1


# -- 3. Paid buttons follow the job's state -----------------------------------------------


async def test_a_running_job_offers_cancel_and_details_and_an_old_retry_creates_nothing(
    world: World,
) -> None:
    job = await world.submitted_job("A running fox.")
    card = card_of(world, job.card_message_id)
    assert button_ids(card) == [f"sb:cancel:{job.id}", f"sb:details:{job.id}"]
    # A card drawn by an older version still shows Retry on a running job.
    old = copy.deepcopy(card)
    old["components"][0]["components"].insert(
        0, {"type": 2, "style": 1, "label": "Retry", "custom_id": f"sb:retry:{job.id}"}
    )
    ix = await press(world, old, f"sb:retry:{job.id}", stale=True)
    assert "is now: Queued" in await answered(world, ix)
    assert len(world.provider.requests_to("create")) == 1
    # The stale card is drawn again as the job stands (waited for: a stop in the middle of
    # that edit would cut it off).
    await world.wait_until(lambda: [c.status for c in world.fd.calls_to(EDIT)] == [200])
    assert button_ids(card_of(world, job.card_message_id)) == [
        f"sb:cancel:{job.id}",
        f"sb:details:{job.id}",
    ]


async def test_buttons_after_completion_and_an_old_cancel(world: World) -> None:
    job = await world.submitted_job("A finished fox.")
    running = copy.deepcopy(card_of(world, job.card_message_id))
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    watch = (
        f"https://discord.com/channels/{world.std.guild.id}/{job.thread_id}"
        f"/{job.delivery_message_id}"
    )
    # Edit & redo, Details, and a link to the video's message.
    await world.wait_until(
        lambda: (
            button_ids(card_of(world, job.card_message_id))
            == [f"sb:remix:{job.id}", f"sb:details:{job.id}", watch]
        )
    )
    [video] = [c for c in posts_in(world, job.thread_id) if c.files]
    assert int(video.response["id"]) == job.delivery_message_id
    edits = len(world.fd.calls_to(EDIT))
    ix = await press(world, running, f"sb:cancel:{job.id}", stale=True)
    assert "is now: Completed" in await answered(world, ix)
    assert world.provider.requests_to("delete") == []
    # The old card is drawn again (waited for: a stop in the middle of that edit would cut
    # it off).
    await world.wait_until(lambda: [c.status for c in world.fd.calls_to(EDIT)[edits:]] == [200])


async def test_retry_on_a_failed_character_job_makes_the_character_again(world: World) -> None:
    # An ordinary failure: a safety refusal offers no Retry (test_moderation_e2e.py).
    world.provider.set_outcome(None, "fail", message="The clip could not be decoded.")
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="character create",
        options={"url": "https://videos.example/monster.mp4", "range": "2,4", "name": "Blob"},
    )
    await world.wait_reply(ix)
    [job] = await world.jobs()
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    await world.wait_until(
        lambda: (
            button_ids(card_of(world, job.card_message_id))
            == [f"sb:retry:{job.id}", f"sb:details:{job.id}"]
        )
    )
    world.provider.set_outcome(None, "complete")
    retry = await press(world, job.card_message_id or 0, f"sb:retry:{job.id}")
    await world.wait_reply(retry)
    first, again = world.provider.requests_to("create")
    assert again.valid, again.errors
    for name in ("character_url", "character_timestamps", "prompt"):
        assert again.fields[name] == first.fields[name]
    assert "seconds" not in again.fields
    [_, new] = await world.jobs()
    assert new.kind == "character"


# -- 4. A modal submitted twice is one job -------------------------------------------------


async def test_a_remix_modal_submitted_twice_is_one_job(world: World) -> None:
    job = await world.submitted_job("A remixed owl.")
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    opened = await press(world, job.card_message_id or 0, f"sb:remix:{job.id}")
    assert opened.modal is not None
    values = {"storyboard": "A remixed owl, at night."}
    first = await world.fd.submit_modal(opened, values)
    second = await world.fd.submit_modal(opened, values)
    await world.wait_reply(first)
    await world.wait_reply(second)
    assert "already submitted" in followup_text(first) + followup_text(second)
    assert len(world.provider.requests_to("create")) == 2  # the original and one remix


# -- 5. Delivery failures are classified, not retried forever ------------------------------


async def test_a_video_the_provider_no_longer_keeps_ends_with_a_notice(world: World) -> None:
    job = await world.submitted_job("A vanished video.")
    world.provider.inject(Fault(route="content", kind="status", status=404, times=100))
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    [notice] = [t for t in texts_in(world, job.thread_id) if f"video #{job.id} finished" in t]
    assert "no longer keeps it" in notice
    assert job.delivery_error == "video no longer at the provider"
    asked = len(world.provider.requests_to("content"))
    assert asked == 1
    # Nothing loops: a while later nobody asked again.
    other = await world.submitted_job("Proof that time passed.")
    await world.wait_until(lambda: state_is(world, other.id, "active"))
    await world.wait_until(lambda: len(world.provider.requests_to("retrieve")) > 5)
    assert len(world.provider.requests_to("content")) == asked


async def test_a_3000_character_failure_reason_still_reaches_the_member(world: World) -> None:
    reason = "The prompt was refused because " + "it is very long " * 200
    world.provider.set_outcome(None, "fail", message=reason)
    job = await world.submitted_job("A long refusal.")
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    [notice] = [t for t in texts_in(world, job.thread_id) if "could not make this video" in t]
    assert len(notice) <= 2000
    assert "The prompt was refused because it is very long" in notice


async def test_a_delivery_that_keeps_failing_backs_off_then_gives_up_with_a_notice(
    world: World,
) -> None:
    config = world.config_with(
        tracking={"delivery_give_up_hours": 0.0003, "delivery_retry_max_minutes": 0.005},
    )
    await world.restart(config)
    job = await world.submitted_job("A stubborn download.")
    # The provider's content route is down for good: a passing failure, never ending.
    world.provider.inject(Fault(route="content", kind="status", status=500, times=1000))
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id), within=30)
    job = await world.job(job.id)
    assert job.delivery_error == "gave up after repeated failures"
    [notice] = [t for t in texts_in(world, job.thread_id) if f"#{job.id}" in t]
    assert "have stopped trying" in notice
    asked = len(world.provider.requests_to("content"))
    assert asked >= 2  # tried again before giving up
    # And then stopped: another job delivered meanwhile, and nothing asked for the first.
    world.provider.faults.clear()
    other = await world.submitted_job("A later one.")
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, other.id))
    assert len(world.provider.requests_to("content")) == asked + 1


# -- 6. One 404 on a poll is not a failure -------------------------------------------------


async def test_one_404_on_a_poll_is_not_a_failure(world: World) -> None:
    job = await world.submitted_job("A hiccup.")
    world.provider.inject(Fault(route="retrieve", kind="status", status=404, times=1))
    await world.wait_until(lambda: len(world.provider.requests_to("retrieve")) >= 3)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    assert (await world.job(job.id)).state == "completed"


async def test_a_task_gone_for_good_fails_after_repeated_404s(world: World) -> None:
    job = await world.submitted_job("A lost task.")
    world.provider.inject(Fault(route="retrieve", kind="status", status=404, times=1000))
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert job.state == "failed"
    assert len([r for r in world.provider.requests_to("retrieve") if r.status == 404]) >= 3
    assert any("doesn't know this video" in t for t in texts_in(world, job.thread_id))


async def test_a_key_rotation_keeps_polling_running_jobs_with_their_own_key(
    world: World,
) -> None:
    job = await world.submitted_job("Made with the old key.")
    new_key = "sk-guild-a-rotated"
    world.provider.keys = world.provider.keys | {new_key}
    guilds = {str(world.std.guild.id): {"api_key": new_key}}
    config = world.config_with(guilds=guilds)
    world.bot.config = config  # what /storyboard-admin reload does
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    assert (await world.job(job.id)).state == "completed"
    polls = world.provider.requests_to("retrieve")
    assert polls[-1].key != new_key


# -- 7. Expiry does not abandon a paid video -----------------------------------------------


async def test_an_expired_job_is_still_delivered_when_it_finishes_late(world: World) -> None:
    config = world.config_with(tracking={"max_job_minutes": 0.01})
    await world.restart(config)
    job = await world.submitted_job("A slow sunrise.")
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert job.state == "expired"
    [notice] = texts_in(world, job.thread_id)[1:]
    assert "keep looking" in notice
    assert "Retry" not in notice
    assert button_ids(card_of(world, job.card_message_id)) == [
        f"sb:resubmit:{job.id}",
        f"sb:details:{job.id}",
    ]
    world.provider.advance(3600)
    await world.wait_until(lambda: state_is(world, job.id, "completed"))
    await world.wait_until(lambda: delivered(world, job.id))
    videos = [c for c in posts_in(world, job.thread_id) if c.files]
    assert len(videos) == 1
    assert len(world.provider.requests_to("create")) == 1


# -- Dialects ------------------------------------------------------------------------------


async def test_a_relay_speaking_status_synonyms_is_followed_to_the_end(world: World) -> None:
    world.provider.status_names = {
        "queued": "not_start",
        "in_progress": "running",
        "completed": "succeeded",
        "failed": "error",
    }
    job = await world.submitted_job("A synonym.")
    world.provider.advance(20)
    await world.wait_until(
        lambda: "In progress" in str(card_of(world, job.card_message_id)["embeds"])
    )
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    assert (await world.job(job.id)).state == "completed"


async def test_a_new_api_error_body_is_shown_as_its_sentence(world: World) -> None:
    # An ordinary refusal (a safety refusal is told differently: test_moderation_e2e.py).
    body = {"code": "prompt_too_long", "message": "提示词过长，最多 1000 字", "data": None}
    world.provider.inject(Fault(route="create", kind="status", status=400, body=body))
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A blocked scene."])
    said = followup_text(sub)
    assert "提示词过长，最多 1000 字" in said
    assert '"code"' not in said
    [job] = await world.jobs()
    assert job.state == "submit_failed"
