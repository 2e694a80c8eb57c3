"""`/storyboard-help`: what a storyboard is, the `[5s]` rule, examples, this server's limits."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.bot import StoryboardBot
from bot.config import GuildSettings
from bot.i18n import pick_locale, t

EXAMPLES = ("help.example_1", "help.example_2", "help.example_3")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def help_text(guild: GuildSettings, locale: str) -> str:
    """The whole help, in `locale`: examples in code blocks so a tap copies them."""
    models = guild.models
    lines = [
        f"**{t('help.title', locale)}**",
        t("help.what", locale, models=models),
        t("help.how", locale),
        t("help.rule", locale),
        "",
        f"**{t('help.examples', locale)}**",
        *(f"```\n{t(key, locale)}\n```" for key in EXAMPLES),
        f"**{t('help.limits', locale)}**",
    ]
    if not guild.can_submit:
        lines.append(t("help.no_key", locale))
        return "\n".join(lines)
    lengths = guild.allowed_seconds
    lines.append(t("help.lengths", locale, lengths=lengths, default=guild.defaults.seconds))
    lines.append(t("help.models", locale, models=models))
    if guild.daily_jobs_per_user is not None:
        lines.append(t("help.quota", locale, jobs=guild.daily_jobs_per_user))
    if guild.daily_seconds_per_guild is not None:
        lines.append(t("help.guild_quota", locale, seconds=guild.daily_seconds_per_guild))
    if guild.cooldown_seconds > 0:
        lines.append(t("help.cooldown", locale, seconds=_number(guild.cooldown_seconds)))
    return "\n".join(lines)


class HelpCog(commands.Cog):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="storyboard-help",
        description=locale_str(
            "How to write a storyboard, with examples and this server's limits",
            key="commands.storyboard-help.description",
        ),
    )
    async def storyboard_help(self, interaction: discord.Interaction) -> None:
        locale = pick_locale(str(interaction.locale))
        guild = self.bot.submitter.settings_for(interaction.guild_id)
        await interaction.response.send_message(
            help_text(guild, locale)[:2000],
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(HelpCog(bot))
