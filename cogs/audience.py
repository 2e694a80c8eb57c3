"""Who reads which language (issue 14).

What only one member sees (an ephemeral reply, a form) is in that member's Discord
language. What everyone in the server reads (the job card, its thread's messages, the
delivery, a draft panel) is in the server's language: the guild's `locale` setting, else
the server's Discord "preferred locale", else English (`bot.i18n.public_locale`).
"""

from __future__ import annotations

import discord

from bot.bot import StoryboardBot
from bot.i18n import pick_locale, public_locale


def member_locale(interaction: discord.Interaction) -> str:
    """The language of a reply only this member sees."""
    return pick_locale(str(interaction.locale))


def guild_locale(interaction: discord.Interaction) -> str | None:
    """The server's Discord language, as the interaction (or the cached guild) gives it."""
    if interaction.guild_locale is not None:
        return interaction.guild_locale.value
    guild = interaction.guild
    return guild.preferred_locale.value if guild is not None else None


def server_locale(bot: StoryboardBot, interaction: discord.Interaction) -> str:
    """The language of what everyone in this server reads."""
    configured = bot.config.settings_for(interaction.guild_id).locale
    return public_locale(configured, guild_locale(interaction))
