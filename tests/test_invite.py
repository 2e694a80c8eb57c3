"""`storyboard-bot invite`: the link that adds the bot, with exactly the permissions its
code uses; and the README shows the same link (issue 15)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import discord
import pytest

from bot.cli import main
from bot.i18n import t
from bot.invite import BOT_PERMISSIONS, SCOPES, invite_url, permission_names
from tests.fake_discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[1]
OAUTH = "GET /oauth2/applications/@me"


def config(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[discord]\ntoken = "{token}"\n[provider]\nbase_url = "https://relay.test.dev/v1"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def test_the_permissions_are_the_ones_the_code_uses() -> None:
    """Each permission named, so adding one is a decision (and a README change), not a
    silent bump of a number."""
    assert (
        discord.Permissions(
            view_channel=True,
            send_messages=True,
            embed_links=True,
            attach_files=True,
            read_message_history=True,
            create_public_threads=True,
            send_messages_in_threads=True,
        )
        == BOT_PERMISSIONS
    )
    assert not BOT_PERMISSIONS.manage_threads
    assert not BOT_PERMISSIONS.administrator
    assert SCOPES == ("bot", "applications.commands")


def test_invite_with_a_client_id_prints_the_link(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--client-id", "1234567890"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "https://discord.com/oauth2/authorize?client_id=1234567890"
        f"&scope=bot+applications.commands&permissions={BOT_PERMISSIONS.value}\n"
    )
    assert err == (
        f"permissions {BOT_PERMISSIONS.value}: View Channels, Send Messages and Create Posts,"
        " Embed Links, Attach Files, Read Message History, Create Public Threads,"
        " Send Messages in Threads\n"
    )


async def test_invite_fetches_the_application_id_with_the_token(
    fake_discord: FakeDiscord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, fake_discord.bot_token)
    code = await asyncio.to_thread(main, ["invite", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == invite_url(fake_discord.app_id) + "\n"
    assert f"client_id={fake_discord.app_id}&" in out
    assert len(fake_discord.calls_to(OAUTH)) == 1
    assert fake_discord.bot_token not in out + err


async def test_invite_with_a_wrong_token_says_so_in_one_line(
    fake_discord: FakeDiscord, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, "not-the-bot-token")
    code = await asyncio.to_thread(main, ["invite", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err == (
        f"{path}: discord.token: Discord refused the token (401); copy it again from the"
        " Developer Portal (your application, Bot, Reset Token)\n"
    )
    assert fake_discord.calls_to(OAUTH) == []


def test_invite_without_a_token_names_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    path = tmp_path / "config.toml"
    path.write_text('[provider]\nbase_url = "https://relay.test.dev/v1"\n', encoding="utf-8")
    assert main(["invite", "--config", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"{path}: discord.token: missing (set it, or DISCORD_TOKEN in the environment)\n"
    )


def test_the_readme_shows_the_codes_own_invite_link_and_permissions() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    link = invite_url(123456789012345678).replace("123456789012345678", "YOUR_APPLICATION_ID")
    assert link in readme
    assert f"`{BOT_PERMISSIONS.value}`" in readme
    section = readme.split("## Set up the Discord side", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"^\s*- \*\*(.+?)\*\*:", section, flags=re.M)
    assert named == [t(f"perm.{p}", "en-US") for p in permission_names(BOT_PERMISSIONS)]
