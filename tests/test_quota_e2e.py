"""Limits the member can see (issue 12): refused before the form opens, `/video quota`,
what is left after a submit, and which jobs count."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import pytest

from bot.access import QuotaRule
from bot.store import JobState
from tests.backends import open_store, store_sql
from tests.fake_discord import InteractionHandle
from tests.fake_discord.standard import GUILD_ID
from tests.harness import World, followup_text, png_bytes, replies_to
from tests.test_commands_tree import english_in
from tests.test_governance_e2e import admin_show, run, with_guild
from tests.test_store import new_job

EPHEMERAL = 64
MODAL, MESSAGE = 9, 4
STAMP = re.compile(r"<t:\d+:R>")


def resets(world: World) -> int:
    return QuotaRule.of(world.bot.config.settings_for(GUILD_ID)).next_reset(time.time())


async def video_quota(world: World, user: Any) -> InteractionHandle:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild, channel=world.std.text, user=user, name="video quota"
    )
    await ix.wait_callback()
    return ix


def said(ix: InteractionHandle) -> str:
    """What the bot answered at once (the interaction's callback message)."""
    assert ix.callback is not None
    return str(ix.callback["data"]["content"])


def english_left(text: str) -> list[str]:
    """English in a text meant to be Chinese (Discord timestamps are data, not words)."""
    return english_in(None, "reply", STAMP.sub("", text))  # type: ignore[arg-type]


def refused_at_once(ix: InteractionHandle) -> str:
    """The answer of a command refused without a form: an ephemeral message, no modal."""
    assert ix.callback_type == MESSAGE, ix.callback_type
    assert ix.callback is not None
    assert ix.callback["data"]["flags"] == EPHEMERAL
    assert ix.modal is None
    [message] = replies_to(ix)
    return str(message["content"])


# 1. Refused before the form opens


async def test_over_the_daily_limit_the_form_does_not_open_and_managers_are_held_too(
    world: World,
) -> None:
    world.bot.config = with_guild(world, daily_jobs_per_user=1, quota_reset_hour_utc=6)
    await world.submitted_job("The one that counts.")
    ix = await run(world, world.std.alice)
    assert refused_at_once(ix) == (
        f"You have made your 1 video for today. Your quota resets <t:{resets(world)}:R>."
    )
    # Manage Server spares a member the access rules, not the quota.
    await world.submitted_job("The admin's one.", user=world.std.admin)
    ix = await run(world, world.std.admin)
    assert refused_at_once(ix).startswith("You have made your 1 video for today.")
    # Bob, in Chinese, has his own allowance.
    ix = await run(world, world.std.bob)
    assert ix.callback_type == MODAL
    assert len(world.provider.requests_to("create")) == 2


async def test_the_cooldown_and_the_server_seconds_refuse_before_the_form(world: World) -> None:
    world.bot.config = with_guild(world, cooldown_seconds=600)
    job = await world.submitted_job("Ten seconds.")
    until = math.ceil(job.created_at + 600)
    text = refused_at_once(await run(world, world.std.alice))
    # When, as a Discord timestamp (each reader's own clock), not a count of seconds.
    assert text == (
        f"You're in the cooldown between videos: you can start the next one <t:{until}:R>."
    )
    # The cooldown is each member's own; Bob reads his in Chinese.
    bobs = await world.submitted_job("十秒。", user=world.std.bob)
    bob_until = math.ceil(bobs.created_at + 600)
    text = refused_at_once(await run(world, world.std.bob))
    assert text == f"冷却中：<t:{bob_until}:R>才能开始下一个视频。"
    assert len(world.provider.requests_to("create")) == 2


async def test_the_server_seconds_refuse_before_the_form_in_the_members_language(
    world: World,
) -> None:
    world.bot.config = with_guild(world, daily_seconds_per_guild=20)
    await world.submitted_job("Ten seconds.")
    ix = await run(world, world.std.bob, seconds=15)
    assert refused_at_once(ix) == (
        "本服务器今日的视频时长额度（20 秒）已用 10 秒，剩下的不够生成 15 秒的视频，"
        f"<t:{resets(world)}:R>重置。"
    )
    ok = await run(world, world.std.bob, seconds=10)
    assert ok.callback_type == MODAL


# 2. /video quota


async def test_video_quota_shows_what_is_left_when_it_resets_and_what_is_running(
    world: World,
) -> None:
    world.bot.config = with_guild(
        world,
        daily_jobs_per_user=3,
        daily_seconds_per_guild=60,
        cooldown_seconds=600,
        quota_reset_hour_utc=6,
    )
    job = await world.submitted_job("Mine.")
    await world.submitted_job("Bob's.", user=world.std.bob, seconds=15)
    reset, until = resets(world), math.ceil(job.created_at + 600)
    ix = await video_quota(world, world.std.alice)
    assert ix.callback_type == MESSAGE
    assert ix.callback is not None
    assert ix.callback["data"]["flags"] == EPHEMERAL
    assert said(ix) == (
        "**Your limits in this server**\n"
        f"Videos left for you today: 2 of 3 (resets <t:{reset}:R>)\n"
        f"Video seconds left for the server today: 35 of 60 (resets <t:{reset}:R>)\n"
        f"Cooldown between videos: 600 s; you can start one <t:{until}:R>\n"
        "Your videos in progress: 1"
    )
    # The admin, who has made nothing: the server's seconds are shared, the rest is theirs.
    ix = await video_quota(world, world.std.admin)
    assert said(ix) == (
        "**Your limits in this server**\n"
        f"Videos left for you today: 3 of 3 (resets <t:{reset}:R>)\n"
        f"Video seconds left for the server today: 35 of 60 (resets <t:{reset}:R>)\n"
        "Cooldown between videos: 600 s; you can start one now\n"
        "Your videos in progress: 0"
    )


async def test_video_quota_says_no_limit_where_none_is_set(world: World) -> None:
    ix = await video_quota(world, world.std.alice)
    assert said(ix) == (
        "**Your limits in this server**\n"
        "Videos left for you today: no limit\n"
        "Video seconds left for the server today: no limit\n"
        "Cooldown between videos: none\n"
        "Your videos in progress: 0"
    )


async def test_video_quota_in_chinese_has_no_english(world: World) -> None:
    world.bot.config = with_guild(
        world, daily_jobs_per_user=2, daily_seconds_per_guild=60, cooldown_seconds=30
    )
    job = await world.submitted_job("一只猫。", user=world.std.bob)
    reset, until = resets(world), math.ceil(job.created_at + 30)
    ix = await video_quota(world, world.std.bob)
    text = said(ix)
    assert text == (
        "**你在本服务器的额度**\n"
        f"你今天还能生成 1 个视频（额度 2 个，<t:{reset}:R>重置）\n"
        f"本服务器今天还剩 50 秒视频时长（额度 60 秒，<t:{reset}:R>重置）\n"
        f"两个视频之间的冷却：30 秒；<t:{until}:R>可以开始下一个\n"
        "你正在生成的视频：1 个"
    )
    assert english_left(text) == []
    world.bot.config = with_guild(world)
    plain = said(await video_quota(world, world.std.bob))
    assert "不限" in plain and "无" in plain
    assert english_left(plain) == []


# 3. What is left, after a submit


async def test_the_submit_confirmation_says_what_is_left_today(world: World) -> None:
    world.bot.config = with_guild(world, daily_jobs_per_user=5)
    ix = await run(world, world.std.alice)
    sub = await world.submit(ix, ["A cat."])
    [job] = await world.jobs()
    assert followup_text(sub) == (
        f"Submitted! Video #{job.id} is queued. Follow it in <#{job.thread_id}>."
        " 4 of 5 videos left for you today."
    )
    ix = await run(world, world.std.bob)
    sub = await world.submit(ix, ["一只猫。"])
    bobs = (await world.jobs())[-1]
    assert followup_text(sub) == (
        f"已提交！视频 #{bobs.id} 正在排队，进度请看 <#{bobs.thread_id}>。"
        "你今天还能生成 4 个视频（额度 5 个）。"
    )


async def test_without_a_per_member_limit_the_confirmation_is_unchanged(world: World) -> None:
    world.bot.config = with_guild(world, daily_seconds_per_guild=100, cooldown_seconds=1)
    ix = await run(world, world.std.alice)
    sub = await world.submit(ix, ["A cat."])
    [job] = await world.jobs()
    assert followup_text(sub) == (
        f"Submitted! Video #{job.id} is queued. Follow it in <#{job.thread_id}>."
    )


# 4. What counts


async def test_a_job_the_provider_failed_does_not_count(world: World) -> None:
    world.bot.config = with_guild(world, daily_jobs_per_user=1, cooldown_seconds=600)
    world.provider.set_outcome(None, "fail", code="content_policy", message="No.")
    job = await world.submitted_job("Fails at the provider.")
    world.provider.advance(3600)
    await world.wait_until(lambda: _state(world, job.id, "failed"))
    world.provider.set_outcome(None, "complete")
    # Not counted: the allowance and the cooldown are back, here and in the admin view.
    reset = resets(world)
    assert said(await video_quota(world, world.std.alice)) == (
        "**Your limits in this server**\n"
        f"Videos left for you today: 1 of 1 (resets <t:{reset}:R>)\n"
        "Video seconds left for the server today: no limit\n"
        "Cooldown between videos: 600 s; you can start one now\n"
        "Your videos in progress: 0"
    )
    admin = await admin_show(world, world.std.admin)
    await world.wait_reply(admin)
    assert admin.original_message is not None
    fields = {f["name"]: f["value"] for f in admin.original_message["embeds"][0]["fields"]}
    assert fields["Today"] == "0 videos, 0 video seconds"
    # So the member may submit again under a limit of 1.
    again = await world.submitted_job("Second try.")
    assert again.state == "active"
    assert len(world.provider.requests_to("create")) == 2
    ix = await run(world, world.std.alice)
    assert refused_at_once(ix).startswith("You're in the cooldown between videos")


async def test_a_job_cancelled_while_queued_does_not_count_and_the_admin_view_agrees(
    world: World,
) -> None:
    world.bot.config = with_guild(world, daily_jobs_per_user=2)
    job = await world.submitted_job("Cancelled.")
    await world.submitted_job("Kept.")
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="video cancel",
        options={"id": str(job.id)},
    )
    await world.wait_reply(ix)
    assert (await world.job(job.id)).state == "cancelled"
    assert "1 of 2 (resets" in said(await video_quota(world, world.std.alice))
    admin = await admin_show(world, world.std.admin)
    await world.wait_reply(admin)
    assert admin.original_message is not None
    fields = {f["name"]: f["value"] for f in admin.original_message["embeds"][0]["fields"]}
    assert fields["Today"] == (f"1 video, 10 video seconds\n<@{world.std.alice.id}>: 1 video, 10 s")


async def _state(world: World, job_id: int, state: str) -> bool:
    return (await world.job(job_id)).state == state


@pytest.mark.parametrize(
    ("state", "counts"),
    [
        ("pending", True),
        ("active", True),
        ("uncertain", True),  # the provider may have made and charged it
        ("completed", True),
        ("expired", True),
        ("failed", False),
        ("submit_failed", False),
        ("cancelled", False),
    ],
)
async def test_what_counts_is_one_definition_for_the_quota_and_the_admin_view(
    tmp_path: Path, store_backend: str, state: JobState, counts: bool
) -> None:
    store = await open_store(store_backend, tmp_path)
    try:
        job = await store.create_job(new_job())
        await store_sql(store, "UPDATE jobs SET state = ? WHERE id = ?", state, job.id)
        usage = await store.usage_now(job.guild_id, job.user_id, 0)
        by_member = await store.usage_by_member(job.guild_id or 0, 0)
    finally:
        await store.close()
    if counts:
        assert (usage.user_jobs_today, usage.guild_seconds_today) == (1, 10)
        assert usage.user_last_job_at == job.created_at
        assert by_member == [(job.user_id, 1, 10)]
    else:
        assert (usage.user_jobs_today, usage.guild_seconds_today) == (0, 0)
        assert usage.user_last_job_at is None
        assert by_member == []


async def test_use_as_reference_image_into_a_quick_storyboard_is_refused_before_the_form(
    world: World,
) -> None:
    world.bot.config = with_guild(world, daily_jobs_per_user=1)
    await world.submitted_job("The one that counts.")
    photo = world.fd.attachment("sunset.png", png_bytes((48, 27), "orange"), "image/png")
    chosen = await world.use_as_reference(photo, "quick")
    assert chosen.modal is None
    assert followup_text(chosen) == (
        f"You have made your 1 video for today. Your quota resets <t:{resets(world)}:R>."
    )
    assert len(world.provider.requests_to("create")) == 1
