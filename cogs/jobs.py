"""Jobs after submission: the tracker's events (card updates, delivery) and `/video`."""

from __future__ import annotations

import logging
import time

import discord
from discord import app_commands, ui
from discord.app_commands import locale_str
from discord.ext import commands

from bot.bot import StoryboardBot
from bot.card_facts import card_facts
from bot.i18n import pick_locale, t
from bot.store import Job
from bot.tracker import Delivery
from cogs.delivery import Deliverer
from cogs.job_buttons import DYNAMIC_ITEMS
from cogs.job_card import build_card, escape, status_text
from cogs.job_choices import is_queued, job_choices
from cogs.job_handlers import cancel_job, own_job
from cogs.job_progress import show_progress as show_job_progress
from cogs.job_views import card_view, delivery_url
from cogs.quota import answer_quota
from cogs.replies import NO_MENTIONS, reply
from cogs.visibility import (
    job_not_found_text,
    visible_job_by_reference,
    visible_recent_jobs,
)

log = logging.getLogger(__name__)
# Presses that submit a paid job at once (resubmit only asks; remix opens a modal).
PAYS_NOW = frozenset({"retry", "confirm", "character"})


class JobsCog(commands.Cog):
    """Implements the tracker's `JobEvents` and the `/video` commands."""

    video = app_commands.Group(
        name="video",
        description=locale_str("Your storyboard videos", key="commands.video.description"),
        guild_only=True,
    )

    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        self.deliverer = Deliverer(bot)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.tracker.events = self

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)
        if self.bot.tracker.events is self:
            self.bot.tracker.events = None

    # JobEvents

    async def show_progress(self, job: Job) -> bool:
        # On the card, or in the thread once the card is too old to edit often.
        return await show_job_progress(self.bot, job)

    async def deliver(self, job: Job, *, maybe_posted: bool) -> Delivery:
        return await self.deliverer.deliver(job, maybe_posted=maybe_posted)

    async def give_up_delivery(self, job: Job) -> None:
        await self.deliverer.give_up_delivery(job)

    # /video

    @video.command(
        name="status",
        description=locale_str(
            "Show a video of this server by its number or task ID",
            key="commands.video.status.description",
        ),
    )
    @app_commands.describe(
        id=locale_str(
            "The video number (#12) or its task ID",
            key="commands.video.status.options.id",
        )
    )
    async def status(self, interaction: discord.Interaction, id: str) -> None:
        locale = pick_locale(str(interaction.locale))
        job = await self._lookup(interaction, id)
        if job is None:
            await reply(interaction, job_not_found_text(id, locale), locale=locale)
            return
        # The card with its buttons: they are keyed by the job, so they work from here too.
        profile = self.bot.config.settings_for(job.guild_id).profile
        facts = await card_facts(self.bot.store, job, time.time())
        await interaction.response.send_message(
            embed=build_card(job, locale, facts),
            view=card_view(job, profile, locale),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @status.autocomplete("id")
    async def _status_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await job_choices(self.bot, interaction, current)

    async def _lookup(self, interaction: discord.Interaction, raw: str) -> Job | None:
        return await visible_job_by_reference(interaction, self.bot.store, raw)

    @video.command(
        name="list",
        description=locale_str(
            "Your recent videos in this server", key="commands.video.list.description"
        ),
    )
    async def list_(self, interaction: discord.Interaction) -> None:
        locale = pick_locale(str(interaction.locale))
        assert interaction.guild_id is not None
        view = JobListView(self.bot, interaction.guild_id, interaction.user.id, locale)
        content, embed = await view.render(interaction)
        if embed is None:
            await interaction.response.send_message(content, ephemeral=True)
            return
        await interaction.response.send_message(embed=embed, ephemeral=True, view=view)

    @video.command(
        name="cancel",
        description=locale_str(
            "Cancel one of your videos that is still queued",
            key="commands.video.cancel.description",
        ),
    )
    @app_commands.describe(
        id=locale_str(
            "The video number (#12) or its task ID",
            key="commands.video.cancel.options.id",
        )
    )
    async def cancel(self, interaction: discord.Interaction, id: str) -> None:
        locale = pick_locale(str(interaction.locale))
        found = await self._lookup(interaction, id)
        job = await own_job(interaction, found.id if found else 0, locale) if found else None
        if found is None:
            await reply(interaction, job_not_found_text(id, locale), locale=locale)
            return
        if job is None:
            return
        await cancel_job(self.bot, interaction, job, locale)

    @cancel.autocomplete("id")
    async def _cancel_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await job_choices(self.bot, interaction, current, first=is_queued)

    @video.command(
        name="quota",
        description=locale_str(
            "What you can still make today, and when your limits reset",
            key="commands.video.quota.description",
        ),
    )
    async def quota(self, interaction: discord.Interaction) -> None:
        await answer_quota(self.bot, interaction)


class JobListView(ui.View):
    """Ephemeral pages of a member's recent jobs."""

    PAGE = 5

    def __init__(self, bot: StoryboardBot, guild_id: int, user_id: int, locale: str) -> None:
        super().__init__(timeout=300)
        self.bot, self.guild_id, self.user_id, self.locale = bot, guild_id, user_id, locale
        self.page = 0

    async def render(
        self, interaction: discord.Interaction
    ) -> tuple[str | None, discord.Embed | None]:
        """This page, re-checked for what the member pressing can still see."""
        jobs = await visible_recent_jobs(
            interaction,
            self.bot.store,
            guild_id=self.guild_id,
            user_id=self.user_id,
            limit=self.PAGE + 1,
            offset=self.page * self.PAGE,
        )
        more, jobs = len(jobs) > self.PAGE, jobs[: self.PAGE]
        self.previous.disabled = self.page == 0
        self.next.disabled = not more
        if not jobs:
            return t("jobs.list_empty", self.locale), None
        embed = discord.Embed(title=t("jobs.list_title", self.locale, page=self.page + 1))
        for job in jobs:
            first = job.storyboard.shots[0].scene
            seconds = t("card.seconds", self.locale, seconds=job.storyboard.settings.seconds)
            # The member's own words on a line of their own; the video by its number (the
            # video service's id is for Details).
            facts = seconds
            if job.state == "completed" and job.delivery_message_id is not None:
                facts += f" · [{t('buttons.watch', self.locale)}]({delivery_url(job)})"
            name = f"{t('card.footer', self.locale, job=job.id)} · {status_text(job, self.locale)}"
            embed.add_field(name=name, value=f"{escape(first[:80])}\n{facts}", inline=False)
        return None, embed

    @ui.button(label="◀")
    async def previous(
        self, interaction: discord.Interaction, button: ui.Button[JobListView]
    ) -> None:
        self.page = max(0, self.page - 1)
        content, embed = await self.render(interaction)
        await interaction.response.edit_message(content=content, embed=embed, view=self)

    @ui.button(label="▶")
    async def next(self, interaction: discord.Interaction, button: ui.Button[JobListView]) -> None:
        self.page += 1
        content, embed = await self.render(interaction)
        await interaction.response.edit_message(content=content, embed=embed, view=self)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(JobsCog(bot))
