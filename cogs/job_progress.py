"""Showing where a job stands, for the tracker (`JobEvents.show_progress`): on its card,
or, once the card is too old to edit often, in one progress message in its thread.

Discord allows only a few edits of a message older than an hour (error 30046, then a
long wait). So:

- a card younger than `OLD_SECONDS` is edited at each visible change, as always;
- past that, while the job is still queued or running, its progress goes to ONE message
  in the job's thread (silent), edited in place at each visible change. That message
  grows old too: once it is `OLD_SECONDS` old, the next change posts a new one and
  deletes it, so no message is ever edited past its first hour;
- the card itself is edited only when the job leaves those states (done, delivered,
  failed, expired): once or twice in a job's life, well within Discord's allowance.

Ages are read from the message ids (Discord dates them) against `bot.discord_clock`;
`OLD_SECONDS` leaves ten minutes for clocks that disagree and edits in flight. A stale
button on an old card (Cancel on a job now running) is refused by the press handler's
state check, and the card is set right at its final edit.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time

import discord

from bot.bot import StoryboardBot
from bot.card_facts import CardFacts, card_facts
from bot.errors import StoryboardError
from bot.i18n import t
from bot.store import Job
from bot.thumbnails import Thumbnail, fetch_thumbnail
from bot.videos_api import VideoClient
from cogs.job_card import build_card, progress_line, status_text
from cogs.job_posting import post_missing_card
from cogs.job_views import card_view
from cogs.replies import NO_MENTIONS

log = logging.getLogger(__name__)
OLD_SECONDS = 50 * 60


def message_age(message_id: int, now: float) -> float:
    """Seconds since Discord made the message, by its id."""
    return now - discord.utils.snowflake_time(message_id).timestamp()


async def show_progress(bot: StoryboardBot, job: Job) -> bool:
    """Bring what the member sees up to date; False if Discord did not take it."""
    if job.card_channel_id is None or job.card_message_id is None:
        # No card yet (the bot stopped before posting it): post it, once.
        return await post_missing_card(bot, job) if job.card_shown is None else True
    facts = await card_facts(bot.store, job, time.time())
    now = bot.discord_clock()
    if job.state == "active" and message_age(job.card_message_id, now) >= OLD_SECONDS:
        return await _show_in_thread(bot, job, facts, now)
    return await _edit_card(bot, job, job.card_channel_id, job.card_message_id, facts)


async def _edit_card(
    bot: StoryboardBot, job: Job, channel_id: int, message_id: int, facts: CardFacts
) -> bool:
    card = bot.get_partial_messageable(channel_id, guild_id=job.guild_id)
    profile = bot.config.settings_for(job.guild_id).profile
    attachments: list[discord.File] | None = None
    if _delivered_video(job):
        # The provider's still where it offers one, else the one delivery made from the
        # video (kept in the store, so it outlives a restart).
        client = _thumbnail_client(bot, job)
        thumbnail = None
        if client is not None and job.task_id is not None:
            thumbnail = await fetch_thumbnail(client, job.task_id)
        if thumbnail is None:
            thumbnail = await bot.store.job_still(job.id)
        if client is not None or thumbnail is not None:
            # Sent on every edit of a finished card (an empty list drops an old one): an
            # embed that stops naming its attachment would show it as a loose file.
            attachments = [_file(thumbnail)] if thumbnail else []
            facts = facts.model_copy(
                update={"thumbnail": thumbnail.filename if thumbnail else None}
            )
    embed, view = build_card(job, facts=facts), card_view(job, profile)
    message = card.get_partial_message(message_id)
    try:
        if attachments is None:
            await message.edit(embed=embed, view=view)
        else:
            await message.edit(embed=embed, view=view, attachments=attachments)
    except discord.NotFound:
        log.info("job=%s task_id=%s: card is gone; not editing it again", job.id, job.task_id)
        return True
    except discord.HTTPException as exc:
        log.warning("job=%s task_id=%s: card edit failed (%s)", job.id, job.task_id, exc.status)
        return False
    return True


def _delivered_video(job: Job) -> bool:
    """Only a delivered video's card shows a still (so a slow one never holds its delivery
    up, and delivery has made ours by then)."""
    return job.state == "completed" and job.kind == "video" and job.delivered_at is not None


def _thumbnail_client(bot: StoryboardBot, job: Job) -> VideoClient | None:
    """The client of the key that made the job, if its provider offers stills."""
    try:
        client = bot.tracker.client_for(job)
    except StoryboardError:  # the guild has no key any more: no still
        return None
    return client if client.profile.allows("thumbnail") else None


def _file(thumbnail: Thumbnail) -> discord.File:
    return discord.File(io.BytesIO(thumbnail.data), filename=thumbnail.filename)


async def _show_in_thread(bot: StoryboardBot, job: Job, facts: CardFacts, now: float) -> bool:
    """The job's one progress message in its thread (or, without one, the card's channel):
    edited while young, else posted anew with the older one deleted."""
    where = bot.get_partial_messageable(
        job.thread_id or job.card_channel_id or job.channel_id, guild_id=job.guild_id
    )
    loc = job.public_locale
    line = progress_line(job, loc, facts) or status_text(job, loc)
    text = t("card.thread_progress", loc, job=job.id, line=line)
    previous = job.progress_message_id
    try:
        if previous is not None and message_age(previous, now) < OLD_SECONDS:
            with contextlib.suppress(discord.NotFound):  # deleted: post a new one
                await where.get_partial_message(previous).edit(content=text)
                return True
        message = await where.send(text, allowed_mentions=NO_MENTIONS, silent=True)
    except (discord.Forbidden, discord.NotFound):
        # The thread is gone or closed to us: the card's final edit still tells the end.
        log.info("job=%s task_id=%s: can't post progress in the thread", job.id, job.task_id)
        return True
    except discord.HTTPException as exc:
        log.warning("job=%s task_id=%s: progress post failed (%s)", job.id, job.task_id, exc.status)
        return False
    await bot.store.set_progress_message(job.id, message.id)
    if previous is not None:
        with contextlib.suppress(discord.HTTPException):
            await where.get_partial_message(previous).delete()
    return True
