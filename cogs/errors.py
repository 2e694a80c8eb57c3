"""One place where failed app commands turn into an ephemeral, localised reply."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import StoryboardBot
from bot.i18n import pick_locale
from bot.tree import Refused
from cogs.replies import describe_error, reply

log = logging.getLogger(__name__)


class ErrorsCog(commands.Cog):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self._previous = self.bot.tree.on_error
        self.bot.tree.error(self.on_app_command_error)

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous  # type: ignore[method-assign]

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        elif isinstance(error, Refused):
            original = error.reason
        locale = pick_locale(str(interaction.locale))
        text = describe_error(
            original,
            locale,
            context=f"command={interaction.command and interaction.command.qualified_name}",
        )
        try:
            await reply(interaction, text, locale=locale)
        except discord.HTTPException:
            log.warning("could not tell the member about an error", exc_info=True)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(ErrorsCog(bot))
