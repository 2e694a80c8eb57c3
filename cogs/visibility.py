"""Who may reach a job or a draft: a member of its guild who can view the channel it lives in.

One rule for every command, button, picker and modal that names a job or a draft:
the job's guild is the interaction's, and the member can view the channel the job
lives in (a thread counts as its parent channel). A job or draft the member can't
reach answers exactly like one that does not exist, so nobody learns it is there.
"""

from __future__ import annotations

from collections.abc import Iterable

import discord

from bot.drafts import Draft
from bot.errors import StoryboardError
from bot.i18n import t
from bot.store import Job
from bot.store.api import StoreApi

# SQLite's INTEGER is a signed 64-bit number: no row id is outside 1..2**63-1, and
# binding a larger Python int raises OverflowError.
SQLITE_ROW_ID_LIMIT = 2**63
# How much of what the member typed is said back in "there is no job ...".
SHOWN_REFERENCE_CHARS = 40
# Longer than any job number or provider task id: not worth a lookup or an echo.
MAX_REFERENCE_CHARS = 100
# Jobs read per query while `/video list` skips the ones the member can't see.
LIST_SCAN = 50


def job_channel_ids(job: Job) -> tuple[int, ...]:
    """Where the job lives, most specific first: its thread, its card's channel, where asked."""
    ids = (job.thread_id, job.card_channel_id, job.channel_id)
    return tuple(dict.fromkeys(i for i in ids if i is not None))


def draft_channel_ids(draft: Draft) -> tuple[int, ...]:
    """Where the draft lives: its panel's thread, then the channel it was started in."""
    ids = (draft.thread_id, draft.channel_id)
    return tuple(dict.fromkeys(i for i in ids if i is not None))


def can_view_channel(interaction: discord.Interaction, channel_ids: Iterable[int]) -> bool:
    """Whether the member can view the first of `channel_ids` that we know.

    The channel of the interaction itself is judged by the permissions Discord resolved
    for it; any other by the guild cache and the channel's overwrites (a thread by its
    parent's). A thread dropped from the cache (archived) falls back to the next id,
    its parent. A channel we don't know is not visible.
    """
    guild = interaction.guild
    member = interaction.user
    for channel_id in channel_ids:
        if channel_id == interaction.channel_id:
            return interaction.permissions.view_channel
        if guild is None or not isinstance(member, discord.Member):
            return False
        channel = guild.get_channel_or_thread(channel_id)
        if channel is None:
            continue
        if isinstance(channel, discord.Thread):
            parent = channel.parent
            return parent is not None and parent.permissions_for(member).view_channel
        return channel.permissions_for(member).view_channel
    return False


def can_see_job(interaction: discord.Interaction, job: Job) -> bool:
    """True only for a member of the job's guild who can view the channel it lives in.

    A job from direct messages (no guild) is visible only to its requester, in DMs.
    """
    if job.guild_id is None:
        return interaction.guild_id is None and interaction.user.id == job.user_id
    if job.guild_id != interaction.guild_id:
        return False
    return can_view_channel(interaction, job_channel_ids(job))


def can_see_draft(interaction: discord.Interaction, draft: Draft) -> bool:
    """True only for a member of the draft's guild who can view its thread (or channel)."""
    if draft.guild_id != interaction.guild_id:
        return False
    return can_view_channel(interaction, draft_channel_ids(draft))


def is_row_id(number: int) -> bool:
    """Whether `number` can be a row id at all (buttons carry up to 20 digits)."""
    return 0 < number < SQLITE_ROW_ID_LIMIT


async def visible_job(interaction: discord.Interaction, store: StoreApi, job_id: int) -> Job | None:
    """The job `job_id` if this member may see it; None as if it did not exist."""
    if not is_row_id(job_id):
        return None
    job = await store.find_job(job_id)
    return job if job is not None and can_see_job(interaction, job) else None


async def visible_job_by_reference(
    interaction: discord.Interaction, store: StoreApi, raw: str
) -> Job | None:
    """The job a member named (`12`, `#12`, a task id) if they may see it; else None."""
    if len(raw) > MAX_REFERENCE_CHARS:
        return None
    job = await store.job_by_reference(interaction.guild_id, raw)
    return job if job is not None and can_see_job(interaction, job) else None


async def visible_draft(
    interaction: discord.Interaction, store: StoreApi, draft_id: int
) -> Draft | None:
    """The draft `draft_id` if this member may see it; None as if it did not exist."""
    if not is_row_id(draft_id):
        return None
    draft = await store.drafts.find(draft_id)
    return draft if draft is not None and can_see_draft(interaction, draft) else None


async def visible_recent_jobs(
    interaction: discord.Interaction,
    store: StoreApi,
    *,
    guild_id: int,
    user_id: int,
    limit: int,
    offset: int = 0,
) -> list[Job]:
    """A member's jobs they can still see, newest first: `limit` after skipping `offset`
    visible ones (a job in a channel closed to them since is left out, not counted)."""
    found: list[Job] = []
    skipped = start = 0
    while len(found) < limit:
        batch = await store.recent_jobs(
            guild_id=guild_id, user_id=user_id, limit=LIST_SCAN, offset=start
        )
        for job in batch:
            if not can_see_job(interaction, job):
                continue
            if skipped < offset:
                skipped += 1
                continue
            found.append(job)
            if len(found) == limit:
                break
        if len(batch) < LIST_SCAN:
            break
        start += LIST_SCAN
    return found


def job_not_found(raw: str) -> StoryboardError:
    """The answer for a job that is missing or not the member's to see (the same words),
    or for text that can't name a job at all."""
    shown = raw.strip()
    if not shown.lstrip("#").strip() or len(shown) > MAX_REFERENCE_CHARS:
        return StoryboardError("jobs.bad_reference")
    return StoryboardError("jobs.not_found", job=shown[:SHOWN_REFERENCE_CHARS])


def job_not_found_text(raw: str, locale: str) -> str:
    error = job_not_found(raw)
    return t(error.key, locale, **error.fields)
