"""Access rules, quotas, the admin view and reloading, end to end."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

from bot.access import QuotaRule
from bot.config import Config, parse_config
from tests.backends import storage_toml
from tests.fake_discord import InteractionHandle
from tests.fake_discord.standard import GUILD_ID, MEMBER_ROLE_ID
from tests.fake_provider import Fault
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import World, followup_text, replies_to


def with_guild(world: World, **guild: Any) -> Config:
    """The world's config with extra settings for the standard guild."""
    data = world.config.file.model_dump(mode="json", exclude_none=True)
    data["discord"]["token"] = world.fd.bot_token
    data["guilds"][str(GUILD_ID)] = {"api_key": GUILD_A_KEY, **guild}
    data["guilds"][str(GUILD_ID)]["api_key"] = GUILD_A_KEY
    data["guilds"]["1300000000000000001"]["api_key"] = "sk-guild-b"
    data["storage"] = world.storage  # a dump masks a PostgreSQL URL, a secret
    return parse_config(data, world.config.path, env={})


def text_of(ix: InteractionHandle) -> str:
    data = (ix.callback or {}).get("data") or {}
    return str(data.get("content", "")) + followup_text(ix)


async def run(world: World, user: Any = None, **options: Any) -> InteractionHandle:
    return await world.open_storyboard(user, **{"shots": 1, "seconds": 10, **options})


async def test_a_member_without_an_allowed_role_is_refused_everywhere(world: World) -> None:
    world.bot.config = with_guild(world, allowed_role_ids=[MEMBER_ROLE_ID])
    ix = await run(world, world.std.bob)
    assert ix.callback_type == 4
    # Bob's Discord is in Chinese: one message, in his language, naming the role he lacks.
    refusal = f"你需要以下身份组之一才能在这里使用机器人：<@&{MEMBER_ROLE_ID}>"
    assert [m["content"] for m in replies_to(ix)] == [refusal]
    assert ix.callback is not None
    assert ix.callback["data"]["flags"] == 64
    ok = await run(world, world.std.alice)
    assert ok.callback_type == 9
    admin = await run(world, world.std.admin)
    assert admin.callback_type == 9  # Manage Server is never locked out


async def test_the_rules_apply_to_modals_and_buttons_too(world: World) -> None:
    ix = await run(world, world.std.alice)
    job = await world.submitted_job("Made before the rules changed.")
    world.bot.config = with_guild(world, allowed_channel_ids=[1_200_000_000_000_000_999])
    sub = await world.submit(ix, ["Submitted after."], wait=False)
    await sub.wait_callback()
    assert sub.callback_type == 4  # refused at once, before any defer
    assert "The bot can only be used in <#1200000000000000999>" in text_of(sub)
    assert "Submitted after." in text_of(sub)
    press = await world.fd.press_button(
        job.card_message_id or 0, f"sb:cancel:{job.id}", user=world.std.alice
    )
    await press.wait_callback()
    assert "The bot can only be used in" in text_of(press)
    assert len(world.provider.requests_to("create")) == 1
    assert world.provider.requests_to("delete") == []


async def test_threads_of_an_allowed_channel_are_allowed(world: World) -> None:
    job = await world.submitted_job("In the allowed channel.")
    world.bot.config = with_guild(world, allowed_channel_ids=[world.std.text.id])
    thread = world.fd.channels[job.thread_id or 0]
    ix = await run(world, world.std.alice, channel=thread)
    assert ix.callback_type == 9


async def test_daily_jobs_per_user_refuses_with_the_reset_time_and_refused_jobs_do_not_count(
    world: World,
) -> None:
    world.bot.config = with_guild(world, daily_jobs_per_user=1, quota_reset_hour_utc=6)
    world.provider.inject(
        Fault(route="create", kind="status", status=400, body={"error": {"message": "bad"}})
    )
    await world.submitted_job("Refused by the provider.")
    # A form opened while under the limit is checked again at submit (test_quota_e2e has
    # the refusal before the form opens).
    ix = await run(world, world.std.alice)
    await world.submitted_job("The one that counts.")
    sub = await world.submit(ix, ["One too many."])
    text = followup_text(sub)
    reset = QuotaRule(reset_hour_utc=6).next_reset(__import__("time").time())
    assert f"You have made your 1 video for today. Your quota resets <t:{reset}:R>." in text
    assert "One too many." in text
    assert len(world.provider.requests_to("create")) == 2
    # Another member still may.
    await world.submitted_job("Bob's turn.", user=world.std.bob)
    assert len(world.provider.requests_to("create")) == 3
    # After the reset the member may again.
    await world.sql("UPDATE jobs SET created_at = created_at - 86400")
    await world.submitted_job("Tomorrow.")
    assert len(world.provider.requests_to("create")) == 4


async def test_daily_seconds_per_guild_and_cooldown(world: World) -> None:
    world.bot.config = with_guild(world, daily_seconds_per_guild=20)
    # Forms opened while everything still fitted: the limits hold again at submit.
    ix = await run(world, world.std.bob, seconds=15)
    await world.submitted_job("Ten seconds.")
    held = await run(world, world.std.alice)
    sub = await world.submit(ix, ["Fifteen more."])
    resets = QuotaRule.of(world.bot.config.settings_for(GUILD_ID)).next_reset(time.time())
    # Bob's Discord is in Chinese; his text comes back so nothing he wrote is lost, and
    # Fix (修改) reopens the form with it.
    assert followup_text(sub) == (
        "本服务器今日的视频时长额度（20 秒）已用 10 秒，剩下的不够生成 15 秒的视频，"
        f"<t:{resets}:R>重置。\n"
        "按 **修改** 可以重新打开表单，你的内容已经填好。\n"
        "你写的内容（可以复制后重新粘贴）：\n```\nFifteen more.\n```"
    )
    world.bot.config = with_guild(world, cooldown_seconds=600)
    sub = await world.submit(held, ["Too soon."])
    assert "You're in the cooldown between videos" in followup_text(sub)
    assert len(world.provider.requests_to("create")) == 1


async def admin_show(world: World, user: Any) -> InteractionHandle:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild, channel=world.std.text, user=user, name="storyboard-admin show"
    )
    await ix.wait_callback()
    return ix


async def test_admin_view_masks_the_key_and_shows_usage(world: World) -> None:
    await world.submitted_job("Counted.")
    await world.submitted_job("Counted too.", user=world.std.bob)
    refused = await admin_show(world, world.std.alice)
    assert "Only members with Manage Server" in text_of(refused)
    ix = await admin_show(world, world.std.admin)
    await world.wait_reply(ix)
    assert ix.callback_type == 5
    assert ix.callback is not None
    assert ix.callback["data"]["flags"] == 64  # deferred ephemeral: the answer stays private
    data = ix.original_message
    assert data is not None
    rendered = repr(data)
    assert GUILD_A_KEY not in rendered
    assert GUILD_A_KEY[-5:] not in rendered  # at most the last 4 characters
    fields = {f["name"]: f["value"] for f in data["embeds"][0]["fields"]}
    assert "API key: ****" in fields["Effective settings"]
    assert fields["Today"].startswith("2 videos, 20 video seconds")
    assert f"<@{world.std.alice.id}>: 1 video, 10 s" in fields["Today"]
    jobs = await world.jobs()
    assert fields["Videos in progress (2)"] == "\n".join(
        f"Video #{j.id} · Queued · <@{j.user_id}> · task ID `{j.task_id}`" for j in jobs
    )


async def test_reload_takes_a_good_file_and_refuses_a_broken_one(
    world: World, tmp_path: Path
) -> None:
    path = world.config.path
    good = f"""
[discord]
token = "{world.fd.bot_token}"
[provider]
base_url = "{world.provider.base_url}"
{storage_toml(world.storage)}
[guilds."{GUILD_ID}"]
api_key = "{GUILD_A_KEY}"
daily_jobs_per_user = 3
"""
    path.write_text(good, encoding="utf-8")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.admin,
        name="storyboard-admin reload",
    )
    await ix.wait_callback()
    assert "Config reloaded (1 server configured)." in text_of(ix)
    assert world.bot.config.guild(GUILD_ID).daily_jobs_per_user == 3
    path.write_text(
        good.replace("daily_jobs_per_user = 3", "daily_jobs_per_user = -1\nseconds = 20"),
        encoding="utf-8",
    )
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.admin,
        name="storyboard-admin reload",
    )
    await ix.wait_callback()
    text = text_of(ix)
    assert "the running settings stay" in text
    assert f"guilds.{GUILD_ID}.daily_jobs_per_user" in text
    assert GUILD_A_KEY not in text
    assert world.bot.config.guild(GUILD_ID).daily_jobs_per_user == 3


async def test_keys_added_by_a_reload_are_masked_in_the_logs(world: World) -> None:
    import logging

    from bot.logs import SecretMaskingFilter, mask_more_secrets

    handler = logging.StreamHandler()
    mask = SecretMaskingFilter(world.config.secrets())
    handler.addFilter(mask)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        mask_more_secrets(["sk-brand-new-key-after-reload"])
        record = logging.LogRecord(
            "x", logging.INFO, __file__, 1, "key %s", ("sk-brand-new-key-after-reload",), None
        )
        mask.filter(record)
        assert record.getMessage() == "key ****"
    finally:
        root.removeHandler(handler)
