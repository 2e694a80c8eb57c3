"""An admin's first hour in Discord: the bot checks its own permissions, says who and where
it is after login, keeps command copies tidy and says what a reload can't apply (issue 15)."""

from __future__ import annotations

import logging

import discord
import pytest

from bot.bot import StoryboardBot
from bot.config import Config
from bot.invite import BOT_PERMISSIONS
from tests.backends import storage_toml
from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import Overwrite, Perm
from tests.fake_discord.standard import GUILD_ID
from tests.harness import World, replies_to

PERMS_FIELD = "My permissions in this channel"
COMMANDS = "PUT /applications/{application_id}/guilds/{guild_id}/commands"


async def admin_show(world: World) -> dict[str, str]:
    ix: InteractionHandle = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.admin,
        name="storyboard-admin show",
    )
    await world.wait_reply(ix)
    embed = replies_to(ix)[0]["embeds"][0]
    return {f["name"]: f["value"] for f in embed["fields"]}


def bot_role_id(world: World) -> int:
    return next(r.id for r in world.std.guild.roles if r.bot_id == world.fd.app_id)


async def test_admin_show_names_the_permissions_the_bot_lacks_in_this_channel(
    world: World,
) -> None:
    assert (await admin_show(world))[PERMS_FIELD] == "✅ I have every permission I need here."
    world.std.text.overwrites.append(
        Overwrite(bot_role_id(world), deny=Perm.ATTACH_FILES | Perm.SEND_MESSAGES_IN_THREADS)
    )
    assert (await admin_show(world))[PERMS_FIELD] == (
        "⚠️ Missing here: Attach Files, Send Messages in Threads. Videos started here can't get"
        " their card, thread or video posted until my role gets them (Server Settings → Roles,"
        " or this channel's permissions)."
    )
    world.std.admin.locale = "zh-CN"
    fields = await admin_show(world)
    assert fields["我在本频道的权限"] == (
        "⚠️ 这里缺少：附加文件、在子区中发送消息。在我的身份组获得这些权限之前（服务器设置 → 身份组，"
        "或本频道的权限设置），在这里发起的视频无法发布卡片、子区或视频。"
    )


def test_every_permission_checked_is_one_the_fake_discord_enforces_by_discords_value() -> None:
    """The bits the invite asks for are Discord's own (the fake uses Discord's values)."""
    assert BOT_PERMISSIONS.value == (
        Perm.VIEW_CHANNEL
        | Perm.SEND_MESSAGES
        | Perm.EMBED_LINKS
        | Perm.ATTACH_FILES
        | Perm.READ_MESSAGE_HISTORY
        | Perm.CREATE_PUBLIC_THREADS
        | Perm.SEND_MESSAGES_IN_THREADS
    )


def connected_lines(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.getMessage().startswith("connected as ")]


def after_login(records: list[logging.LogRecord]) -> list[str]:
    """The bot's INFO and worse after discord.py's "logging in", in order (discord.py's
    gateway chatter is quieted by `setup_logging` in the product, not here)."""
    messages = [
        r.getMessage()
        for r in records
        if r.levelno >= logging.INFO and not r.name.startswith("discord.gateway")
    ]
    start = max(i for i, m in enumerate(messages) if m == "logging in using static token")
    return messages[start + 1 :]


async def test_the_first_line_after_login_says_who_where_and_the_commands(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    me = f"{world.fd.world.bot_user.username} ({world.fd.app_id})"
    servers = len(world.fd.world.guilds)

    def logged() -> list[logging.LogRecord]:
        return caplog.get_records("setup") + caplog.records

    await world.wait_until(lambda: bool(connected_lines(logged())))
    first = [m for m in after_login(logged()) if not m.startswith("applying migration")]
    assert first[0] == (
        f"connected as {me} to {servers} servers; commands synced (global); 0 open jobs resumed"
    )
    await world.submitted_job("Still running at the restart.")
    caplog.clear()
    await world.restart()
    await world.wait_until(lambda: bool(connected_lines(caplog.records)))
    assert after_login(caplog.records)[0] == (
        f"connected as {me} to {servers} servers; commands up to date (global); 1 open jobs resumed"
    )
    assert len(connected_lines(caplog.records)) == 1


def test_no_warning_about_voice_libraries(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a fresh process without PyNaCl or davey (discord.py warns once a process).
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    caplog.clear()
    StoryboardBot(world.config)
    assert [r.getMessage() for r in caplog.records if "voice" in r.getMessage()] == []


def with_dev_guilds(world: World, ids: list[int]) -> Config:
    return world.config_with(discord={"dev_guild_ids": ids})


async def test_emptying_dev_guild_ids_removes_the_guild_copies(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.restart(with_dev_guilds(world, [GUILD_ID]))
    names = sorted(c["name"] for c in world.fd.commands[GUILD_ID])
    assert "storyboard" in names
    await world.restart(with_dev_guilds(world, []))
    assert world.fd.commands[GUILD_ID] == []
    assert "storyboard" in [c["name"] for c in world.fd.commands[None]]
    assert f"guild {GUILD_ID} is no longer in dev_guild_ids: its command copies removed" in [
        r.getMessage() for r in caplog.records
    ]
    # Done once: the next start leaves the guild alone.
    puts = len(world.fd.calls_to(COMMANDS))
    caplog.clear()
    await world.restart(with_dev_guilds(world, []))
    await world.wait_until(lambda: bool(connected_lines(caplog.records)))
    assert len(world.fd.calls_to(COMMANDS)) == puts
    assert "; commands up to date (global);" in connected_lines(caplog.records)[0]


async def reload(world: World) -> str:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.admin,
        name="storyboard-admin reload",
    )
    await ix.wait_callback()
    messages = replies_to(ix)
    assert len(messages) == 1
    return str(messages[0]["content"])


async def test_a_reload_says_when_a_change_needs_a_restart(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    path = world.config.path
    base = f"""
[discord]
token = "{world.fd.bot_token}"
[provider]
base_url = "{world.provider.base_url}"
{storage_toml(world.storage)}
[guilds."{GUILD_ID}"]
api_key_env = "UNUSED"
"""
    path.write_text(base.replace('api_key_env = "UNUSED"', 'api_key = "sk-guild-a"'), "utf-8")
    assert (await reload(world)) == "Config reloaded (1 server configured)."
    # The store moved: another file, or another PostgreSQL database.
    [(setting, where)] = world.storage.items()
    elsewhere = str(path.parent / "elsewhere.db") if setting == "path" else where + "_elsewhere"
    moved = base.replace(storage_toml(world.storage), storage_toml({setting: elsewhere}))
    path.write_text(moved.replace('api_key_env = "UNUSED"', 'api_key = "sk-guild-a"'), "utf-8")
    assert (await reload(world)) == (
        "Config reloaded (1 server configured).\nSome of the changed settings apply only"
        " after a restart (the bot's log names them)."
    )
    assert f"changed, applied at the next restart: storage.{setting}" in [
        r.getMessage() for r in caplog.records
    ]
