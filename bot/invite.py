"""The invite link: the scopes and exactly the permissions the bot's code uses.

One definition for `storyboard-bot invite`, the README (a test builds its link from
here) and `/storyboard-admin show`, which checks them in the channel it is used in.
"""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from bot import reach

SCOPES = ("bot", "applications.commands")
# What each permission is for. No Manage Threads (the bot never archives or locks a
# thread), no Manage Messages, no Mention Everyone; no privileged intents either.
BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,  # see the channel a command or a job is in
    send_messages=True,  # job cards in a channel; a forum post for a draft
    embed_links=True,  # the job card and draft panel are embeds
    attach_files=True,  # the finished video
    read_message_history=True,  # after a restart, find an earlier post instead of posting twice
    create_public_threads=True,  # a thread for each job and each draft
    send_messages_in_threads=True,  # progress, the video and the draft panel go in the thread
)


def permission_names(permissions: discord.Permissions) -> list[str]:
    """discord.py's names of the permissions set, in the order Discord lists them."""
    return [name for name, value in permissions if value]


def missing_permissions(have: discord.Permissions) -> list[str]:
    """The permissions the bot needs and `have` lacks, by discord.py name, in Discord's order."""
    return [name for name in permission_names(BOT_PERMISSIONS) if not getattr(have, name)]


def invite_url(client_id: int) -> str:
    return discord.utils.oauth_url(client_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)


async def fetch_application_id(token: str) -> int:
    """The application the token belongs to (GET /oauth2/applications/@me, as discord.py
    does at login). Raises `discord.LoginFailure` or `reach.DiscordUnreachable`."""
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        async with asyncio.timeout(reach.LOGIN_SECONDS):
            await http.static_login(token)
            data = await http.application_info()
    except TimeoutError:
        raise reach.DiscordUnreachable(reach.why_unreachable(TimeoutError())) from None
    except aiohttp.ClientError as exc:
        raise reach.DiscordUnreachable(reach.why_unreachable(exc)) from None
    finally:
        await http.close()
    return int(data["id"])
