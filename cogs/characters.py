"""`/character create`: a character from a video URL and a 1-3 s range, or from a finished task."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.bot import StoryboardBot
from bot.characters import CharacterSource, check_url, parse_range
from bot.errors import StoryboardError
from bot.i18n import pick_locale
from bot.store import Job
from bot.storyboard import Shot, Storyboard, StoryboardSettings
from bot.submission import SubmitOrder
from cogs.audience import guild_locale
from cogs.job_choices import is_finished_video, job_choices
from cogs.job_posting import post_job_card
from cogs.replies import reply_not_submitted
from cogs.visibility import job_not_found, visible_job_by_reference

log = logging.getLogger(__name__)


async def submit_character(
    bot: StoryboardBot,
    interaction: discord.Interaction,
    source: CharacterSource,
    name: str,
    locale: str,
    *,
    into: discord.abc.Messageable | None = None,
    request_key: str | None = None,
) -> None:
    """Submit a character job and card it like any job (the interaction is already deferred).

    `request_key` names what pays: the Create character button passes one per video, so
    pressing it again finds the first character job instead of paying twice."""
    guild = bot.submitter.settings_for(interaction.guild_id)
    d = guild.defaults
    order = SubmitOrder(
        request_key=request_key or f"character:{interaction.id}",
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id or 0,
        user_id=interaction.user.id,
        locale=locale,
        guild_locale=guild_locale(interaction),
        storyboard=Storyboard(
            shots=(Shot(scene=name or "character"),),
            settings=StoryboardSettings(model=d.model, seconds=d.seconds),
        ),
        filesize_limit=interaction.filesize_limit,
        character=source,
    )
    with bot.busy():
        job = await bot.submitter.submit(order)
        if job.state == "submit_failed":
            await reply_not_submitted(interaction, job, locale)
            return
        await post_job_card(bot, interaction, job, locale, into=into)


async def finished_task_of(bot: StoryboardBot, interaction: discord.Interaction, raw: str) -> Job:
    """The finished video job a member named, if they can see it (else "not found")."""
    job = await visible_job_by_reference(interaction, bot.store, raw)
    if job is None:
        raise job_not_found(raw)
    if job.state != "completed" or job.task_id is None or job.kind != "video":
        raise StoryboardError("character.task_not_finished", job=job.id)
    return job


class CharactersCog(commands.Cog):
    character = app_commands.Group(
        name="character",
        description=locale_str("Characters made from videos", key="commands.character.description"),
        guild_only=True,
    )

    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    @character.command(
        name="create",
        description=locale_str(
            "Make a character from a video (it must show no real person) or a finished one",
            key="commands.character.create.description",
        ),
    )
    @app_commands.describe(
        url=locale_str(
            "Link to a video that shows no real person (not a Discord attachment link)",
            key="commands.character.create.options.url",
        ),
        range=locale_str(
            "Seconds where the character appears: start,end, 1 to 3 s apart (e.g. 2,4)",
            key="commands.character.create.options.range",
        ),
        task=locale_str(
            "Or: the number (#12) or task ID of a finished video from this server",
            key="commands.character.create.options.task",
        ),
        name=locale_str(
            "A name or short description for the character",
            key="commands.character.create.options.name",
        ),
    )
    async def create(
        self,
        interaction: discord.Interaction,
        url: str | None = None,
        range: str | None = None,
        task: str | None = None,
        name: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        locale = pick_locale(str(interaction.locale))
        guild = self.bot.submitter.settings_for(interaction.guild_id)
        if not guild.can_submit:
            raise StoryboardError("guild.no_key")
        if task is not None and (url is not None or range is not None):
            raise StoryboardError("character.one_source")
        if task is None:
            if url is None or range is None:
                raise StoryboardError("character.one_source")
            source = CharacterSource(url=check_url(url), timestamps=parse_range(range))
        else:
            done = await finished_task_of(self.bot, interaction, task)
            source = CharacterSource(from_task=done.task_id, from_job=done.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await submit_character(self.bot, interaction, source, name or "", locale)

    @create.autocomplete("task")
    async def _task_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        # Only a finished video can become a character.
        return await job_choices(self.bot, interaction, current, keep=is_finished_video)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(CharactersCog(bot))
