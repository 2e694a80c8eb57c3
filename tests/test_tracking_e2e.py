"""Tracking and delivery end to end: progress on the card, the video in the thread, restarts."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fake_discord import RecordedCall
from tests.fake_provider import Fault
from tests.harness import SEND, World, followup_text

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"


def card_edits(world: World, message_id: int | None) -> list[RecordedCall]:
    return [c for c in world.fd.calls_to(EDIT) if c.params["message_id"] == str(message_id)]


def status_of(call: RecordedCall) -> str:
    fields = {f["name"]: f["value"] for f in call.json["embeds"][0]["fields"]}
    return str(fields["Status"])


def posts_in(world: World, channel_id: int | None) -> list[RecordedCall]:
    return [c for c in world.fd.calls_to(SEND) if c.params["channel_id"] == str(channel_id)]


async def _delivered(world: World, job_id: int) -> bool:
    return (await world.job(job_id)).delivered_at is not None


async def failed_job(world: World, *scenes: str) -> Any:
    """A job the provider failed, delivered: its card offers Retry."""
    world.provider.set_outcome(None, "fail", message="Upstream refused.")
    job = await world.submitted_job(*scenes)
    world.provider.advance(3600)
    await world.wait_until(lambda: _delivered(world, job.id))
    world.provider.set_outcome(None, "complete")
    return await world.job(job.id)


def deliveries(world: World, thread_id: int | None) -> list[RecordedCall]:
    return [
        c
        for c in posts_in(world, thread_id)
        if "ready" in str(c.json.get("content", "")) or c.files
    ]


async def test_progress_is_edited_on_the_card_only_when_it_visibly_changes(world: World) -> None:
    job = await world.submitted_job("A kite rises.")
    world.provider.advance(20)  # in progress, about 25 %
    await world.wait_until(
        lambda: any(
            status_of(c).startswith("In progress") for c in card_edits(world, job.card_message_id)
        )
    )
    polls_before = len(world.provider.requests_to("retrieve"))
    await world.wait_until(lambda: len(world.provider.requests_to("retrieve")) > polls_before + 5)
    edits = card_edits(world, job.card_message_id)
    assert len(edits) == 1  # many polls, one visible change
    assert status_of(edits[0]) == "In progress (25%)"  # 15 of 60 s on the fake clock
    world.provider.advance(30)
    await world.wait_until(lambda: len(card_edits(world, job.card_message_id)) == 2)
    assert status_of(card_edits(world, job.card_message_id)[1]).startswith("In progress (")
    # Buttons stay on every edit: a running job offers no paid button.
    custom_ids = [b["custom_id"] for row in edits[0].json["components"] for b in row["components"]]
    assert custom_ids == [f"sb:cancel:{job.id}", f"sb:details:{job.id}"]


async def test_finished_video_is_posted_in_the_thread_mentioning_only_the_requester(
    world: World,
) -> None:
    job = await world.submitted_job("A kite rises.", "It lands.")
    world.provider.advance(3600)
    await world.wait_until(lambda: deliveries(world, job.thread_id))
    [post] = deliveries(world, job.thread_id)
    assert post.files[0][0] == f"storyboard-{job.id}.mp4"
    assert post.files[0][1] == world.provider.content_of(job.task_id or "")
    assert post.json["allowed_mentions"] == {"parse": [], "users": [world.std.alice.id]}
    assert (
        post.json["content"]
        == f"<@{world.std.alice.id}> your video #{job.id} is ready (10 s, sora-2, 64 KB)."
    )
    await world.wait_until(
        lambda: status_of(card_edits(world, job.card_message_id)[-1]) == "Completed"
    )
    # Delivery is recorded just after the post: wait for it rather than race it.
    await world.wait_until(lambda: _delivered(world, job.id))
    done = await world.job(job.id)
    assert done.state == "completed"
    [download] = world.provider.requests_to("content")
    assert download.key == "sk-guild-a"


async def test_a_video_over_the_upload_limit_is_not_uploaded(world: World) -> None:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="storyboard",
        options={"shots": 1, "seconds": 10},
        attachment_size_limit=32 * 1024,  # the fake video is 64 KiB
    )
    await ix.wait_callback()
    await world.submit(ix, ["A large video."])
    job = (await world.jobs())[0]
    assert job.filesize_limit == 32 * 1024
    world.provider.advance(3600)
    await world.wait_until(lambda: deliveries(world, job.thread_id))
    [post] = deliveries(world, job.thread_id)
    assert post.files == []
    # The limit in the member's own units (32 KiB, not "0.0 MB"); no link, so an admin's help.
    assert post.json["content"] == (
        f"<@{world.std.alice.id}> your video #{job.id} is ready, but it is larger than this"
        " server's upload limit (32 KB), so I can't post it here. A server admin can fetch it"
        " for you."
    )
    await world.wait_until(lambda: _delivered(world, job.id))


async def test_a_failed_job_says_why(world: World) -> None:
    # An ordinary failure, in the provider's words (a safety refusal is said as what to
    # change: test_moderation_e2e.py).
    world.provider.set_outcome(None, "fail", code="render_failed", message="The renderer crashed.")
    job = await world.submitted_job("A portrait.")
    world.provider.advance(3600)
    await world.wait_until(lambda: posts_in(world, job.thread_id)[1:])
    text = posts_in(world, job.thread_id)[-1].json["content"]
    assert "could not make this video" in text
    assert "The renderer crashed. (code render_failed)" in text
    await world.wait_until(
        lambda: status_of(card_edits(world, job.card_message_id)[-1]) == "Failed"
    )
    assert (await world.job(job.id)).state == "failed"


async def test_a_job_that_never_finishes_expires(world: World) -> None:
    job = await world.submitted_job("Forever.")
    config = world.config.model_copy(
        update={
            "file": world.config.file.model_copy(
                update={
                    "tracking": world.config.file.tracking.model_copy(
                        update={"max_job_minutes": 0.01}
                    )
                }
            )
        }
    )
    world.bot.config = config
    await world.wait_until(lambda: posts_in(world, job.thread_id)[1:])
    text = posts_in(world, job.thread_id)[-1].json["content"]
    assert "is taking unusually long: The video service did not finish within 1 min." in text
    assert "I keep looking for up to 24 h" in text
    assert (await world.job(job.id)).state == "expired"


async def test_a_restart_mid_job_delivers_exactly_once(world: World) -> None:
    job = await world.submitted_job("Before the restart.")
    await world.stop_bot()
    world.provider.advance(3600)  # finishes while the bot is down
    await world.start_bot()
    await world.wait_until(lambda: deliveries(world, job.thread_id))
    # Restarted the moment the post is seen, maybe before it is recorded: the stop lets the
    # delivery finish, and a delivery cut off anyway left a claim that makes the next start
    # look in the thread before posting. Either way: one post, not one message posted twice.
    await world.restart()
    # A second job through to delivery proves the restarted tracker has run its start-up.
    other = await world.submitted_job("After the restart.")
    world.provider.advance(3600)
    await world.wait_until(lambda: deliveries(world, other.thread_id))
    assert len(deliveries(world, job.thread_id)) == 1
    await world.wait_until(lambda: _delivered(world, job.id))
    assert len(world.provider.requests_to("content")) == 2
    assert [r.path for r in world.provider.requests_to("content")].count(
        f"/v1/videos/{job.task_id}/content"
    ) == 1


async def test_commands_are_not_synced_again_when_unchanged(world: World) -> None:
    syncs = len(world.fd.calls_to("PUT /applications/{application_id}/commands"))
    await world.restart()
    assert len(world.fd.calls_to("PUT /applications/{application_id}/commands")) == syncs == 1


async def press(world: World, job_id: int, action: str, user: Any = None) -> Any:
    job = await world.job(job_id)
    return await world.fd.press_button(
        job.card_message_id or 0, f"sb:{action}:{job_id}", user=user or world.std.alice
    )


async def test_retry_after_a_restart_makes_a_new_job_in_the_same_thread(world: World) -> None:
    image = world.fd.attachment(
        "ref.png", __import__("tests.harness", fromlist=["png_bytes"]).png_bytes(), "image/png"
    )
    world.provider.set_outcome(None, "fail", message="Upstream refused.")
    ix = await world.open_storyboard(shots=1, seconds=10, image=image)
    await world.submit(ix, ["A retried scene."])
    first = (await world.jobs())[0]
    world.provider.advance(3600)
    await world.wait_until(lambda: _delivered(world, first.id))
    world.provider.set_outcome(None, "complete")
    await world.restart()
    sub = await press(world, first.id, "retry")
    await world.wait_reply(sub)
    jobs = await world.jobs()
    assert len(jobs) == 2
    second = jobs[1]
    assert second.storyboard == first.storyboard
    creates = world.provider.requests_to("create")
    assert creates[1].fields["prompt"] == creates[0].fields["prompt"]
    assert creates[1].files["input_reference"].data == creates[0].files["input_reference"].data
    assert second.card_channel_id == first.thread_id  # the new card is in the old job's thread
    assert f"<#{first.thread_id}>" in followup_text(sub)


async def test_someone_else_pressing_the_buttons_is_refused(world: World) -> None:
    job = await world.submitted_job("Alice's video.")
    sub = await press(world, job.id, "cancel", user=world.std.bob)
    await sub.wait_callback()
    assert sub.callback is not None
    assert sub.callback["data"]["flags"] == 64
    assert "只有" in sub.callback["data"]["content"]  # bob reads Chinese
    assert len(await world.jobs()) == 1


async def test_a_moderator_may_press_them_and_a_server_manager_may_not(world: World) -> None:
    job = await world.submitted_job("Alice's video.")
    sub = await press(world, job.id, "details", user=world.mod)
    await sub.wait_callback()
    assert sub.callback is not None
    assert sub.callback["data"]["content"].startswith(
        f"**Video #{job.id}**, task ID `{job.task_id}`"
    )
    # Manage Server is not Manage Messages.
    sub = await press(world, job.id, "details", user=world.std.admin)
    await sub.wait_callback()
    assert sub.callback is not None
    assert sub.callback["data"]["content"].startswith(f"Only <@{world.std.alice.id}>")


async def test_details_shows_the_full_prompt(world: World) -> None:
    job = await world.submitted_job("First @everyone.", "Second.")
    sub = await press(world, job.id, "details")
    await sub.wait_callback()
    assert sub.callback is not None
    data = sub.callback["data"]
    assert data["flags"] == 64
    assert "Shot 1:\nduration: 5sec\nScene: First @everyone." in data["content"]
    assert data["allowed_mentions"] == {"parse": []}


async def test_remix_resubmits_the_edited_storyboard(world: World) -> None:
    job = await world.submitted_job("A day scene.")
    world.provider.advance(3600)
    await world.wait_until(lambda: _delivered(world, job.id))
    ix = await press(world, job.id, "remix")
    await ix.wait_callback()
    assert ix.modal is not None
    prefilled = ix.modal["components"][0]["component"]["value"]
    assert prefilled == "[10s] A day scene."  # one `[Ns] scene` line per shot
    sub = await world.fd.submit_modal(ix, {"storyboard": prefilled.replace("day", "night")})
    await world.wait_reply(sub)
    creates = world.provider.requests_to("create")
    assert len(creates) == 2
    assert creates[1].fields["prompt"] == "Shot 1:\nduration: 10sec\nScene: A night scene."


async def test_video_status_list_and_cancel(world: World) -> None:
    job = await world.submitted_job("Queued for a while.")
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.bob,
        name="video status",
        options={"id": f"#{job.id}"},
    )
    await ix.wait_callback()
    assert ix.callback is not None
    # Only bob sees it: in his language, the video by its number (the task ID is in Details).
    status_card = ix.callback["data"]["embeds"][0]
    assert status_card["footer"]["text"] == f"视频 #{job.id}"
    assert status_card["fields"][0] == {"name": "状态", "value": "排队中", "inline": True}
    ix = await world.fd.run_slash_command(
        guild=world.std.guild, channel=world.std.text, user=world.std.alice, name="video list"
    )
    await ix.wait_callback()
    assert ix.callback is not None
    assert ix.callback["data"]["embeds"][0]["fields"][0]["name"] == f"Video #{job.id} · Queued"
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.bob,
        name="video cancel",
        options={"id": str(job.id)},
    )
    await ix.wait_callback()
    assert ix.callback is not None
    assert "只有" in ix.callback["data"]["content"]
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="video cancel",
        options={"id": job.task_id},
    )
    await world.wait_reply(ix)  # deferred: the provider is asked first
    assert followup_text(ix) == f"Video #{job.id} is cancelled."
    assert world.provider.jobs[job.task_id or ""].deleted
    assert (await world.job(job.id)).state == "cancelled"


async def test_polling_survives_provider_trouble(world: World) -> None:
    job = await world.submitted_job("Through a storm.")
    world.provider.inject(Fault(route="retrieve", kind="status", status=500, times=6))
    world.provider.inject(
        Fault(route="retrieve", kind="status", status=429, retry_after=0, times=3)
    )
    world.provider.advance(3600)
    await world.wait_until(lambda: deliveries(world, job.thread_id), within=20)
    assert len(deliveries(world, job.thread_id)) == 1


async def test_a_job_that_finished_just_before_the_deadline_is_delivered_not_expired(
    world: World,
) -> None:
    job = await world.submitted_job("Late but done.")
    tracking = world.config.file.tracking.model_copy(update={"max_job_minutes": 0.001})
    world.provider.advance(3600)  # done at the provider; the bot's next look is past the deadline
    world.bot.config = world.config.model_copy(
        update={"file": world.config.file.model_copy(update={"tracking": tracking})}
    )
    await world.wait_until(lambda: deliveries(world, job.thread_id))
    assert (await world.job(job.id)).state == "completed"


async def test_a_double_click_on_retry_pays_once(world: World) -> None:
    job = await failed_job(world, "Only once more.")
    first, second = await asyncio.gather(
        world.fd.press_button(job.card_message_id or 0, f"sb:retry:{job.id}", user=world.std.alice),
        world.fd.press_button(job.card_message_id or 0, f"sb:retry:{job.id}", user=world.std.alice),
    )
    for ix in (first, second):
        await ix.wait_callback()
    [refused] = [ix for ix in (first, second) if ix.callback_type == 4]
    [retried] = [ix for ix in (first, second) if ix.callback_type == 5]
    assert refused.callback is not None
    assert "is already being resubmitted" in refused.callback["data"]["content"]
    await world.wait_reply(retried)
    assert len(world.provider.requests_to("create")) == 2  # the original and one retry
