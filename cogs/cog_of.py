"""The loaded cog a persistent button's press belongs to.

A `DynamicItem` is rebuilt from its custom id for every press, after a restart too, so it
holds no reference to its cog: it finds it on the client.
"""

from __future__ import annotations

from typing import TypeVar

import discord
from discord.ext import commands

CogT = TypeVar("CogT", bound=commands.Cog)


def cog_of(interaction: discord.Interaction, kind: type[CogT]) -> CogT:
    """The loaded cog of type `kind`; a bug (not a member's doing) when it is missing."""
    client = interaction.client
    cog = client.get_cog(kind.__cog_name__) if isinstance(client, commands.Bot) else None
    if not isinstance(cog, kind):
        raise RuntimeError(f"{kind.__cog_name__} is not loaded")
    return cog
