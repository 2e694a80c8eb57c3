"""A card that tells the truth, all the way (issue 12), end to end: a queued job's place in
its server's queue, when a running one is likely done, a finished card from a provider
without stills, and progress moved to the thread once the card is an hour old."""

from __future__ import annotations

import itertools
import re
from typing import Any

import discord
import pytest

from bot.profiles import RELAY
from bot.store import Job, NewJob
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.videos_api import VideoJob
from tests.fake_discord import RecordedCall
from tests.harness import SECOND_GUILD_ID, World
from tests.test_card_e2e import fields_of, progress
from tests.test_money_e2e import card_of, delivered
from tests.test_tracking_e2e import EDIT, card_edits, posts_in

DELETE = "DELETE /channels/{channel_id}/messages/{message_id}"
SILENT = 1 << 12
_seeds = itertools.count(1)


async def seed_finished(
    world: World, took: float, *, guild_id: int, model: str = "sora-2", seconds: int = 10
) -> Job:
    """A video made and delivered before the test: `took` seconds from submission to end."""
    store = world.bot.store
    n = next(_seeds)
    board = validate_storyboard(
        Storyboard(
            shots=(Shot(scene="An earlier one."),),
            settings=StoryboardSettings(model=model, seconds=seconds),
        ),
        RELAY,
        models=[model],
    )
    job = await store.create_job(
        NewJob(
            request_key=f"seed:{n}",
            guild_id=guild_id,
            channel_id=world.std.text.id,
            user_id=world.std.bob.id,
            locale="en-US",
            public_locale="en-US",
            storyboard=board,
            filesize_limit=10 * 1024 * 1024,
        )
    )
    answer = {"id": f"seed-task-{n}", "model": model, "seconds": str(seconds)}
    await store.mark_submitted(job.id, VideoJob.model_validate({**answer, "status": "queued"}))
    done = await store.record_poll(
        job.id, VideoJob.model_validate({**answer, "status": "completed"})
    )
    assert done.finished_at is not None
    await world.sql(
        "UPDATE jobs SET submitted_at = ? WHERE id = ?", done.finished_at - took, job.id
    )
    return await store.mark_delivered(job.id)


async def test_a_queued_card_says_its_place_in_this_servers_queue(world: World) -> None:
    first = await world.submitted_job("The first kite.")
    # Another server's job, made in between: not in this server's queue.
    ix = await world.open_storyboard(
        world.carol, guild=world.second, channel=world.second_channel, shots=1, seconds=10
    )
    await world.submit(ix, ["Elsewhere."])
    elsewhere = (await world.jobs())[-1]
    second = await world.submitted_job("The second kite.")
    third = await world.submitted_job("The third kite.")
    assert (first.state, first.provider_status) == ("active", "queued")
    assert re.fullmatch(r"Queued · submitted <t:\d+:R>", progress(world, first))
    assert elsewhere.guild_id == SECOND_GUILD_ID
    assert re.fullmatch(r"Queued · submitted <t:\d+:R>", progress(world, elsewhere))
    assert re.fullmatch(
        r"Queued · 2nd in this server's queue · submitted <t:\d+:R>", progress(world, second)
    )
    assert re.fullmatch(
        r"Queued · 3rd in this server's queue · submitted <t:\d+:R>", progress(world, third)
    )


async def test_a_running_card_says_when_it_is_likely_done(world: World) -> None:
    for took in (100, 400, 200):  # this server's, sora-2, 10 s: the median is 200 s
        await seed_finished(world, took, guild_id=world.std.guild.id)
    await seed_finished(world, 5, guild_id=world.std.guild.id, seconds=15)  # another length
    await seed_finished(world, 5, guild_id=world.std.guild.id, model="sora-2-pro")
    await seed_finished(world, 9000, guild_id=SECOND_GUILD_ID)  # this server has enough
    job = await world.submitted_job("A kite rises.")
    assert job.submitted_at is not None
    world.provider.advance(20)  # in progress, 25 %
    await world.wait_until(lambda: "▰" in progress(world, job))
    assert re.fullmatch(
        rf"▰▰▱▱▱▱▱▱▱▱ 25 % · started <t:\d+:R> · likely done <t:{int(job.submitted_at + 200)}:R>"
        r" \(estimate\)",
        progress(world, job),
    )


def watch_url(world: World, message_id: int | None) -> str | None:
    for row in card_of(world, message_id)["components"]:
        for button in row["components"]:
            if button.get("label") == "Watch":
                return str(button["url"])
    return None


async def test_a_provider_without_stills_delivers_and_the_card_ends_without_one(
    world: World,
) -> None:
    job = await world.submitted_job("A kite lands.")
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    await world.wait_until(lambda: watch_url(world, job.card_message_id) is not None)
    done = await world.job(job.id)
    assert fields_of(world, job.card_message_id)["Status"] == "Completed"
    assert watch_url(world, job.card_message_id) == (
        f"https://discord.com/channels/{job.guild_id}/{job.thread_id}/{done.delivery_message_id}"
    )
    card = card_of(world, job.card_message_id)
    assert "thumbnail" not in card["embeds"][0]
    assert card["attachments"] == []
    assert [r.query for r in world.provider.requests_to("content")] == [{}]  # the video only


def progress_posts(world: World, job: Any) -> list[RecordedCall]:
    return [
        c
        for c in posts_in(world, job.thread_id)
        if str(c.json.get("content", "")).startswith(f"Progress of video #{job.id}:")
    ]


def text_now(world: World, message_id: int) -> str:
    return str(world.fd.world.messages[message_id]["content"])


HINT = "\n-# The card above is brought up to date when it ends."


async def test_progress_moves_to_the_thread_once_the_card_is_an_hour_old(world: World) -> None:
    job = await world.submitted_job("A very long kite flight.")
    assert job.card_message_id is not None
    world.fd.advance_clock(3700)  # the card is now over an hour old
    world.provider.advance(20)  # in progress, 25 %
    await world.wait_until(lambda: progress_posts(world, job))
    [post] = progress_posts(world, job)
    first = int(post.response["id"])
    assert re.fullmatch(
        rf"Progress of video #{job.id}: ▰▰▱▱▱▱▱▱▱▱ 25 % · started <t:\d+:R>{re.escape(HINT)}",
        text_now(world, first),
    )
    assert post.json["flags"] == SILENT  # no ping for a progress step
    # Edited in place at the next visible change; the card is not touched.
    world.provider.advance(30)  # 75 %
    await world.wait_until(lambda: "▰▰▰▰▰▰▰▱▱▱ 75 %" in text_now(world, first))
    assert len(progress_posts(world, job)) == 1
    assert card_edits(world, job.card_message_id) == []
    # An hour on, that message is old too: the next change posts a new one, and the old
    # one goes, so no message is edited past its first hour.
    world.fd.advance_clock(3100)
    world.provider.advance(5)  # 83 %
    await world.wait_until(lambda: len(progress_posts(world, job)) == 2)
    second = int(progress_posts(world, job)[1].response["id"])
    assert "▰▰▰▰▰▰▰▰▱▱ 83 %" in text_now(world, second)
    await world.wait_until(lambda: first not in world.fd.world.messages)
    assert [c.params["message_id"] for c in world.fd.calls_to(DELETE)] == [str(first)]
    # Done: the card is edited at the end only (completed, then the Watch link), within
    # Discord's allowance for old messages, and says how it ended.
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    await world.wait_until(lambda: watch_url(world, job.card_message_id) is not None)
    edits = card_edits(world, job.card_message_id)
    assert [c.status for c in edits] == [200, 200]
    assert len(world.fd.world.old_message_edits[job.card_message_id]) == 2
    assert fields_of(world, job.card_message_id)["Status"] == "Completed"
    assert re.fullmatch(r"Done in \d+ s", progress(world, job))
    # No other message was edited past its first hour either.
    assert set(world.fd.world.old_message_edits) == {job.card_message_id}


async def test_the_fake_limits_edits_of_messages_older_than_an_hour(world: World) -> None:
    channel = world.bot.get_partial_messageable(world.std.text.id, guild_id=world.std.guild.id)
    old = await channel.send("posted long ago")
    await old.edit(content="an edit while young is not counted")
    world.fd.advance_clock(3601)
    young = await channel.send("posted an hour later")
    for n in range(3):
        await old.edit(content=f"old edit {n}")
        await young.edit(content=f"young edit {n}")
    world.bot.http.max_ratelimit_timeout = 60.0  # raise at once instead of waiting an hour
    with pytest.raises(discord.RateLimited):
        await old.edit(content="one too many")
    [refused] = [c for c in world.fd.calls_to(EDIT) if c.status == 429]
    assert refused.response["code"] == 30046
    assert world.fd.world.messages[old.id]["content"] == "old edit 2"
    await young.edit(content="a young message is not limited")
    world.fd.advance_clock(3600)  # the hour's edits are an hour old
    await old.edit(content="allowed again")
    assert world.fd.world.messages[old.id]["content"] == "allowed again"
