"""`/video quota` (the command itself lives with the `/video` group in cogs/jobs.py)."""

from __future__ import annotations

import discord

from bot.bot import StoryboardBot
from bot.i18n import pick_locale
from bot.quota_view import quota_status, quota_text
from cogs.replies import reply


async def answer_quota(bot: StoryboardBot, interaction: discord.Interaction) -> None:
    """The member's own limits, privately, in their language."""
    locale = pick_locale(str(interaction.locale))
    status = await quota_status(bot, interaction.guild_id, interaction.user.id)
    await reply(interaction, quota_text(status, locale), locale=locale)
