"""The command tree: every app command passes the guild's access rules first."""

from __future__ import annotations

from collections.abc import Callable

import discord
from discord import app_commands

from bot.access import Where, check_access
from bot.config import Config
from bot.errors import StoryboardError


class Refused(app_commands.CheckFailure):
    """An access rule said no; carries the reason for the member."""

    def __init__(self, reason: StoryboardError) -> None:
        super().__init__(reason.key)
        self.reason = reason


def where_of(interaction: discord.Interaction) -> Where:
    channel = interaction.channel
    roles = getattr(interaction.user, "roles", [])
    return Where(
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        parent_id=getattr(channel, "parent_id", None),
        role_ids=frozenset(r.id for r in roles),
        is_admin=interaction.guild_id is not None and interaction.permissions.manage_guild,
    )


def ensure_allowed(config: Config, interaction: discord.Interaction) -> None:
    """Raise `StoryboardError` when this member may not use the bot here."""
    check_access(config.settings_for(interaction.guild_id), where_of(interaction))


class StoryboardTree(app_commands.CommandTree[discord.Client]):
    """Set `config_source` after construction; the Bot does it in `__init__`."""

    config_source: Callable[[], Config] | None = None

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if self.config_source is None or interaction.type is discord.InteractionType.autocomplete:
            return True
        try:
            ensure_allowed(self.config_source(), interaction)
        except StoryboardError as reason:
            raise Refused(reason) from None
        return True
