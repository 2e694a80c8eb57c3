"""Issue 14's "done when": every flow, walked in zh-CN and in zh-TW, reads as Chinese.

A Chinese server (Discord's preferred locale) and Chinese members: /storyboard's form, the
card as it moves, the thread, the delivery, Details, a video the provider failed (its own
words in Chinese, as Chinese relays send them), the quota refusal, a draft (panel, a shot,
settings, the preview), /video status, list and quota, /storyboard-help and the admin
view. Everything the bot sent is checked by `tests.chinese_text.chinese_problems`: no run
of two English words outside ids, model names, code and units, no ASCII punctuation
between Chinese characters, no space after 。. (The provider's safety refusals, with their
own texts, are not merged into this branch yet.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.i18n import catalogue, t
from tests.chinese_text import chinese_problems
from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import Member
from tests.harness import World
from tests.test_commands_tree import flow_calls, visible_texts
from tests.test_drafts_e2e import add_shot, press
from tests.test_governance_e2e import admin_show, with_guild
from tests.test_money_e2e import card_of, delivered
from tests.test_quota_e2e import refused_at_once, video_quota

# What a relay in China says when its upstream is full (tests/test_videos_api.py has it too).
PROVIDER_SAYS = "当前分组上游负载已饱和，请稍后再试"


async def slash(world: World, user: Member, name: str, **options: Any) -> InteractionHandle:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild, channel=world.std.text, user=user, name=name, options=options
    )
    await ix.wait_callback()
    if ix.callback_type == 5:  # deferred: the answer is a followup
        await world.wait_reply(ix)
    return ix


async def walk_every_flow(world: World, locale: str) -> None:
    fd, bob, admin = world.fd, world.std.bob, world.std.admin
    world.std.guild.preferred_locale = locale
    bob.locale = admin.locale = locale

    # /storyboard: the quick form, the card, the thread, the reply; progress; the video.
    ix = await world.open_storyboard(bob, shots=2, seconds=10, orientation="portrait")
    await world.submit(ix, ["冰箱门缓缓打开。", "一只紫色的小怪兽走了出来。"])
    [job] = await world.jobs()
    world.provider.advance(20)  # in progress
    await world.wait_until(lambda: "▰" in str(card_of(world, job.card_message_id)))
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    details = await fd.press_button(job.card_message_id or 0, f"sb:details:{job.id}", user=bob)
    await details.wait_callback()

    # A video the provider failed, in its own (Chinese) words.
    world.provider.set_outcome(None, "fail", code="task_failed", message=PROVIDER_SAYS)
    failed = await world.submitted_job("一艘纸船在雨中漂流。", user=bob)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, failed.id))

    # One video a day (a failed one does not count): the next is refused before its form.
    world.bot.config = with_guild(world, daily_jobs_per_user=1)
    refused = refused_at_once(await world.open_storyboard(bob, shots=1, seconds=10))
    assert refused.startswith(t("quota.user_jobs", locale, limit=1, resets="")[:8])

    # A draft: its panel, a shot, the settings form, the preview.
    ix = await slash(world, bob, "draft new", title="雨夜")
    draft = await world.bot.store.drafts.get(1)
    await add_shot(world, draft, bob, "[4s] 雨水打在窗户上。")
    draft = await world.bot.store.drafts.get(1)
    await press(world, draft, "settings", bob)
    preview = await press(world, draft, "preview", bob)
    assert preview.callback is not None

    # /video status, list and quota; help; the admin view.
    await slash(world, bob, "video status", id=f"#{job.id}")
    await slash(world, bob, "video list")
    await video_quota(world, bob)
    await slash(world, bob, "storyboard-help")
    await world.wait_reply(await admin_show(world, admin))


@pytest.mark.parametrize("locale", ["zh-CN", "zh-TW"])
async def test_every_flow_reads_as_chinese(world: World, locale: str) -> None:
    since = len(world.fd.calls)
    await walk_every_flow(world, locale)
    texts = [
        (f"{call.route}{where}", text)
        for call in flow_calls(world, since)
        for where, text in visible_texts(call.json)
    ]
    seen = "\n".join(text for _, text in texts)
    # The walk reached every flow (a flow that broke early would pass unseen otherwise).
    for key in (
        "modal.shot_label",
        "card.title",
        "card.status_completed",
        "card.status_failed",
        "thread.started",
        "submit.done",
        "delivery.done",
        "delivery.failed",
        "jobs.details_header",
        "draft.panel_title",
        "draft.settings_title",
        "draft.preview",
        "jobs.list_title",
        "quota.title",
        "help.title",
        "admin.title",
        "admin_check.here",
    ):
        words = max(re.split(r"\{[^}]*\}", catalogue(locale)[key]), key=len).strip("*")
        assert words in seen, f"the walk never showed {key} ({words!r})"
    assert PROVIDER_SAYS in seen  # the provider's own words, as it said them
    assert len(texts) > 80
    problems = [f"{where}: {text!r}: {p}" for where, text in texts for p in chinese_problems(text)]
    assert problems == []


async def test_the_walk_in_english_is_caught(world: World) -> None:
    """The check above sees English where there is English: the same walk, en-US."""
    since = len(world.fd.calls)
    await walk_every_flow(world, "en-US")
    texts = [text for call in flow_calls(world, since) for _, text in visible_texts(call.json)]
    problems = {p for text in texts for p in chinese_problems(text)}
    for english in ("Requested by", "Your limits in this server", "Add shot", "Edit & redo"):
        assert any(repr(english)[1:-1] in p for p in problems), english
