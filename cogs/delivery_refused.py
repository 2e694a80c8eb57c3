"""A delivery Discord refused for want of permissions: what the member and admins see.

Kept apart from `cogs/delivery.py` so the wording and the record admins read are in one
place: `NOT_POSTED` marks a job whose outcome no channel of it would take, and
`/storyboard-admin show` lists those with Discord's reason.
"""

from __future__ import annotations

import discord

from bot.i18n import has, t
from bot.store import Job
from bot.tracker import NOT_POSTED, video_link

# Discord's JSON error codes: 50001 Missing Access (can't see the channel), 50013 Missing
# Permissions (sees it, may not do this: Attach Files, Send Messages in Threads...).
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013


def not_attached_text(job: Job) -> str:
    """The video's notice without the video: the bot may post here, not attach files."""
    link = video_link(job)
    key = "delivery_refused.no_files_link" if link else "delivery_refused.no_files"
    return t(
        key,
        job.public_locale,
        mention=f"<@{job.user_id}>",
        link=link,
        job=job.id,
        task_id=job.task_id,
    )


def not_posted_error(exc: discord.HTTPException) -> str:
    """What is stored when nothing was posted: `NOT_POSTED` and a reason code that
    `not_posted_reason` puts in the admin's language."""
    if isinstance(exc, discord.NotFound):
        return f"{NOT_POSTED} gone"
    if exc.code == MISSING_ACCESS:
        return f"{NOT_POSTED} missing_access"
    return f"{NOT_POSTED} missing_permissions"


def is_not_posted(job: Job) -> bool:
    """Whether the job's outcome was posted nowhere (no channel of it would take it)."""
    return (job.delivery_error or "").startswith(NOT_POSTED)


def not_posted_line(job: Job, locale: str) -> str:
    """The card's words for a video no channel would take: why, and who can fix it."""
    reason = not_posted_reason(job.delivery_error, locale)
    return t("delivery_refused.card_line", locale, reason=reason, task_id=job.task_id or "-")


def not_posted_reason(error: str | None, locale: str) -> str:
    code = (error or "").removeprefix(NOT_POSTED).strip()
    key = f"delivery_refused.why_{code}"
    return t(key, locale) if has(key, locale) else code
