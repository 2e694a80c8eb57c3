"""Collaborative drafts: `/draft new`, the live panel, and "Use as reference image"."""

from __future__ import annotations

from bot.bot import StoryboardBot
from cogs.draft.commands import DraftCog


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(DraftCog(bot))
