"""Where a draft's panel lives: a new thread (a forum post in a forum), or the thread we are in."""

from __future__ import annotations

import logging

import discord

from bot.bot import StoryboardBot
from bot.drafts import Draft
from bot.errors import StoryboardError
from cogs.draft.panel import build_panel, panel_view
from cogs.replies import NO_MENTIONS

log = logging.getLogger(__name__)


async def open_draft_thread(bot: StoryboardBot, draft: Draft, channel: object) -> str:
    """Post the panel in a new thread (a forum post in a forum), or in the thread we are in."""
    embed, view = build_panel(draft), panel_view(draft)
    name = draft.title[:100]
    if isinstance(channel, discord.ForumChannel):
        made = await channel.create_thread(
            name=name, embed=embed, view=view, allowed_mentions=NO_MENTIONS
        )
        thread, message = made.thread, made.message
    elif isinstance(channel, discord.Thread):
        thread = channel
        message = await thread.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
    elif isinstance(channel, discord.TextChannel):
        thread = await channel.create_thread(
            name=name, type=discord.ChannelType.public_thread, auto_archive_duration=10080
        )
        message = await thread.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
    else:
        raise StoryboardError("draft.wrong_channel")
    await bot.store.drafts.set_panel(draft.id, thread_id=thread.id, panel_message_id=message.id)
    log.info("draft=%s panel=%s thread=%s", draft.id, message.id, thread.id)
    return thread.mention
