"""The job card: the embed every job's updates are written on."""

from __future__ import annotations

import discord

from bot.i18n import t
from bot.store import Job

SCENE_PREVIEW = 300
COLOURS = {
    "pending": discord.Colour.light_grey(),
    "active": discord.Colour.blurple(),
    "completed": discord.Colour.green(),
    "failed": discord.Colour.red(),
    "submit_failed": discord.Colour.red(),
    "uncertain": discord.Colour.orange(),
    "expired": discord.Colour.dark_grey(),
    "cancelled": discord.Colour.dark_grey(),
}


def status_text(job: Job, locale: str) -> str:
    if job.state == "active":
        if job.provider_status == "in_progress":
            return t("card.status_in_progress", locale, progress=job.progress)
        return t("card.status_queued", locale)
    if job.state in ("uncertain", "expired") and job.resolution is not None:
        return t(f"card.status_{job.state}_{job.resolution}", locale)
    return t(f"card.status_{job.state}", locale)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Member text shown as text: no markdown, no mention syntax."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def build_character_card(job: Job, loc: str) -> discord.Embed:
    source = job.character
    embed = discord.Embed(
        title=t("card.character_title", loc),
        description=escape(_clip(job.storyboard.shots[0].scene, 300)),
        colour=COLOURS[job.state],
    )
    task = f"`{job.task_id}`" if job.task_id else t("card.no_task", loc)
    embed.add_field(name=t("card.task", loc), value=task)
    embed.add_field(name=t("card.status", loc), value=status_text(job, loc))
    origin = escape(_clip(source.describe(), 500)) if source else "-"
    embed.add_field(name=t("card.source", loc), value=origin, inline=False)
    embed.add_field(name=t("card.requested_by", loc), value=f"<@{job.user_id}>", inline=False)
    embed.set_footer(text=t("card.footer", loc, job=job.id))
    return embed


def build_card(job: Job, locale: str | None = None) -> discord.Embed:
    loc = locale or job.locale
    if job.kind == "character":
        return build_character_card(job, loc)
    board = job.storyboard
    settings = board.settings
    lines = [
        t(
            "card.shot_line",
            loc,
            number=n,
            duration=shot.duration,
            scene=escape(_clip(shot.scene, SCENE_PREVIEW)),
        )
        for n, shot in enumerate(board.shots, start=1)
    ]
    embed = discord.Embed(
        title=t("card.title", loc),
        description=_clip("\n".join(lines), 4000),
        colour=COLOURS[job.state],
    )
    embed.add_field(
        name=t("card.task", loc),
        value=f"`{job.task_id}`" if job.task_id else t("card.no_task", loc),
    )
    embed.add_field(name=t("card.status", loc), value=status_text(job, loc))
    embed.add_field(name=t("card.model", loc), value=escape(settings.model))
    embed.add_field(
        name=t("card.length", loc), value=t("card.seconds", loc, seconds=settings.seconds)
    )
    embed.add_field(
        name=t("card.size", loc), value=f"{board.size} ({t(f'card.{settings.orientation}', loc)})"
    )
    embed.add_field(
        name=t("card.image", loc),
        value=escape(job.image_name) if job.image_name else t("card.none", loc),
    )
    embed.add_field(name=t("card.requested_by", loc), value=f"<@{job.user_id}>", inline=False)
    embed.set_footer(text=t("card.footer", loc, job=job.id))
    return embed


def thread_name(job: Job) -> str:
    first = job.storyboard.shots[0].scene
    return _clip(first, 100) or t("card.footer", job.locale, job=job.id)
