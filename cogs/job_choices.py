"""Autocomplete for every option that names a job: the member's own recent jobs here.

Only jobs the member can still see (`cogs.visibility`: this guild, a channel they can
view), named "#12 · Completed · A fox runs…" in their language, valued "#12" (what the
commands accept). Nothing is offered where the member may not use the bot at all.
"""

from __future__ import annotations

from collections.abc import Callable

import discord
from discord import app_commands

from bot.bot import StoryboardBot
from bot.errors import StoryboardError
from bot.i18n import pick_locale
from bot.store import Job
from bot.tree import ensure_allowed
from cogs.job_card import status_text
from cogs.visibility import visible_recent_jobs

# Discord shows at most 25 choices, each name at most 100 characters.
MAX_CHOICES = 25
NAME_MAX = 100
# How far back the member's jobs are searched for what they type.
SCAN = 100


def choice_name(job: Job, locale: str) -> str:
    """ "#12 · Completed · A fox runs…", cut to Discord's 100 characters."""
    scene = job.storyboard.shots[0].scene if job.storyboard.shots else ""
    name = f"#{job.id} · {status_text(job, locale)} · {scene}"
    return name if len(name) <= NAME_MAX else name[: NAME_MAX - 1] + "…"


def is_queued(job: Job) -> bool:
    """Still waiting at the provider: the only jobs `/video cancel` can stop."""
    return job.state == "active" and job.provider_status == "queued"


def is_finished_video(job: Job) -> bool:
    return job.state == "completed" and job.kind == "video" and job.task_id is not None


def matches(job: Job, name: str, typed: str) -> bool:
    """A number ("12", "#12") is the start of a job number; other text is looked for in
    the status, the scene and the task id."""
    text = typed.strip()
    number = text.removeprefix("#").strip()
    if number.isdecimal() and number.isascii():
        return str(job.id).startswith(number)
    needle = text.casefold()
    return needle in name.casefold() or needle in (job.task_id or "").casefold()


async def job_choices(
    bot: StoryboardBot,
    interaction: discord.Interaction,
    current: str,
    *,
    keep: Callable[[Job], bool] = lambda job: True,
    first: Callable[[Job], bool] = lambda job: False,
) -> list[app_commands.Choice[str]]:
    """The member's visible jobs matching what they typed (number, task id or words),
    newest first; `keep` filters, `first` puts some ahead (e.g. the queued ones)."""
    if interaction.guild_id is None:
        return []
    try:
        ensure_allowed(bot.config, interaction)
    except StoryboardError:
        return []  # the command itself would be refused: suggest nothing
    locale = pick_locale(str(interaction.locale))
    jobs = await visible_recent_jobs(
        interaction,
        bot.store,
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
        limit=SCAN,
    )
    found: list[tuple[Job, str]] = []
    for job in jobs:
        name = choice_name(job, locale)
        if keep(job) and matches(job, name, current):
            found.append((job, name))
    found.sort(key=lambda pair: not first(pair[0]))  # stable: newest first within each
    return [app_commands.Choice(name=name, value=f"#{job.id}") for job, name in found][:MAX_CHOICES]
