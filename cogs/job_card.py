"""The job card: the embed every job's updates are written on."""

from __future__ import annotations

import discord

from bot.card_facts import CardFacts, Estimate
from bot.i18n import t
from bot.store import Job
from bot.videos_api.sandbox import is_sandbox_task
from cogs.delivery_refused import is_not_posted, not_posted_line

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


BAR_CELLS = 10
# One line of the provider's reason on the card; the whole text is in Details.
REASON_ON_CARD = 180


def progress_bar(percent: int) -> str:
    filled = max(0, min(BAR_CELLS, percent * BAR_CELLS // 100))
    return "▰" * filled + "▱" * (BAR_CELLS - filled) + f" {percent} %"


def human_duration(seconds: float, locale: str) -> str:
    total = max(1, round(seconds))
    minutes, secs = divmod(total, 60)
    if minutes == 0:
        return t("card.duration_s", locale, s=secs)
    return t("card.duration_m_s", locale, m=minutes, s=secs)


def when(moment: float | None) -> str:
    """A Discord timestamp: each reader sees it in their own time zone ("3 minutes ago")."""
    return f"<t:{int(moment)}:R>" if moment else "-"


def ordinal(n: int, locale: str) -> str:
    """`n` as a place in a queue: "3rd", "第 3 位". The category is English's (CLDR: one,
    two, few, other); the Chinese catalogue says the same for every category."""
    if n % 10 == 1 and n % 100 != 11:
        category = "one"
    elif n % 10 == 2 and n % 100 != 12:
        category = "two"
    elif n % 10 == 3 and n % 100 != 13:
        category = "few"
    else:
        category = "other"
    return t(f"card.ordinal_{category}", locale, n=n)


def about_minutes(seconds: float, locale: str) -> str:
    return t("card.minutes", locale, m=max(1, round(seconds / 60)))


def estimate_text(estimate: Estimate, locale: str) -> str:
    """Said as an estimate. A Discord timestamp ("in 4 minutes") counts down by itself
    between the card's edits, where "4 min left" would be stale a minute later."""
    if estimate.overdue:
        return t("card.estimate_over", locale, took=about_minutes(estimate.typical, locale))
    return t("card.estimate_done", locale, when=when(estimate.done_at))


def queued_line(job: Job, locale: str, place: int | None) -> str:
    if place is not None and place > 1:
        return t(
            "card.queue_place",
            locale,
            place=ordinal(place, locale),
            when=when(job.submitted_at),
        )
    return t("card.submitted", locale, when=when(job.submitted_at))


def progress_line(job: Job, locale: str, facts: CardFacts | None = None) -> str | None:
    """Where the job stands in time: submitted (and its place in the server's queue),
    started with a bar (and when it is likely done), done in how long, or the reason it
    failed, on one line (the provider's whole text is in Details)."""
    facts = facts or CardFacts()
    if job.state == "active":
        if job.provider_status == "in_progress":
            started = job.started_at or job.submitted_at
            parts = [progress_bar(job.progress), t("card.started", locale, when=when(started))]
            if facts.estimate is not None:
                parts.append(estimate_text(facts.estimate, locale))
            return " · ".join(parts)
        return queued_line(job, locale, facts.queue_place)
    if job.state == "completed" and job.finished_at is not None:
        took = job.finished_at - (job.submitted_at or job.created_at)
        done = t("card.done_in", locale, took=human_duration(took, locale))
        if is_not_posted(job):
            # No channel of the job took the video: the card is where the member can
            # still read why (editing our own message needs no Send permission).
            return f"{done} · {not_posted_line(job, locale)}"
        return done
    if job.state in ("failed", "submit_failed") and job.error_key:
        fields = {k: v for k, v in job.error_fields.items()}
        reason = " ".join(t(job.error_key, locale, **fields).split())
        return escape(_clip(reason, REASON_ON_CARD))
    return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Member text shown as text: no markdown, no mention syntax."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def size_text(size: str, orientation: str, locale: str) -> str:
    """ "1280x720" as members write it: "1280×720 (landscape)", "1280×720（横屏）"."""
    width, _, height = size.partition("x")
    return t(
        "card.size_value",
        locale,
        width=width,
        height=height,
        orientation=t(f"card.{orientation}", locale),
    )


def character_source(job: Job, locale: str) -> str:
    source = job.character
    if source is None:
        return "-"
    key, fields = source.description()
    if "url" in fields:
        fields["url"] = escape(_clip(str(fields["url"]), 400))
    return t(key, locale, **fields)


def build_character_card(job: Job, loc: str) -> discord.Embed:
    embed = discord.Embed(
        title=t("card.character_title", loc),
        description=escape(_clip(job.storyboard.shots[0].scene, 300)),
        colour=COLOURS[job.state],
    )
    embed.add_field(name=t("card.status", loc), value=status_text(job, loc))
    embed.add_field(name=t("card.source", loc), value=character_source(job, loc), inline=False)
    embed.add_field(name=t("card.requested_by", loc), value=f"<@{job.user_id}>", inline=False)
    embed.set_footer(text=t("card.footer", loc, job=job.id))
    return embed


def build_card(
    job: Job, locale: str | None = None, facts: CardFacts | None = None
) -> discord.Embed:
    """The card for `job` as it stands, with what the store adds (`bot.card_facts`); its
    thumbnail, if any, is the message's attachment `facts.thumbnail`. In the server's
    language (`job.public_locale`) unless `locale` says otherwise (`/video status`, which
    only the member sees)."""
    loc = locale or job.public_locale
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
    if job.task_id is not None and is_sandbox_task(job.task_id):
        lines.append(t("card.sandbox", loc))
    embed = discord.Embed(
        title=t("card.title", loc),
        description=_clip("\n".join(lines), 4000),
        colour=COLOURS[job.state],
    )
    # The video service's id is for Details: the card names the video by its number.
    embed.add_field(name=t("card.status", loc), value=status_text(job, loc))
    embed.add_field(name=t("card.model", loc), value=escape(settings.model))
    embed.add_field(
        name=t("card.length", loc), value=t("card.seconds", loc, seconds=settings.seconds)
    )
    embed.add_field(
        name=t("card.size", loc), value=size_text(board.size, settings.orientation, loc)
    )
    embed.add_field(
        name=t("card.image", loc),
        value=escape(job.image_name) if job.image_name else t("card.none", loc),
    )
    line = progress_line(job, loc, facts)
    if line:
        embed.add_field(name=t("card.progress", loc), value=line, inline=False)
    embed.add_field(name=t("card.requested_by", loc), value=f"<@{job.user_id}>", inline=False)
    embed.set_footer(text=t("card.footer", loc, job=job.id))
    if facts is not None and facts.thumbnail is not None:
        embed.set_thumbnail(url=f"attachment://{facts.thumbnail}")
    return embed


def thread_name(job: Job) -> str:
    first = job.storyboard.shots[0].scene
    return _clip(first, 100) or t("card.footer", job.public_locale, job=job.id)
