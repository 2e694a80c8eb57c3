"""Posting a job's card (with its buttons) and the thread it continues in."""

from __future__ import annotations

import logging
import time

import discord

from bot.bot import StoryboardBot
from bot.card_facts import card_facts
from bot.i18n import t
from bot.profiles import ProviderProfile
from bot.quota_view import with_left_today
from bot.store import Job
from bot.tracker import visible_state
from cogs.job_card import build_card, thread_name
from cogs.job_views import card_view
from cogs.replies import NO_MENTIONS, reply

log = logging.getLogger(__name__)
CARD_CHANNELS = (discord.TextChannel, discord.Thread, discord.VoiceChannel, discord.DMChannel)


def _profile(bot: StoryboardBot, job: Job) -> ProviderProfile:
    return bot.config.settings_for(job.guild_id).profile


async def post_job_card(
    bot: StoryboardBot,
    interaction: discord.Interaction,
    job: Job,
    locale: str,
    *,
    into: discord.abc.Messageable | None = None,
) -> None:
    """The card in `into` (a job's existing thread), in the thread we are in, or in the
    channel with a new thread on it; then the member's ephemeral answer, and tracking.
    The card and the thread's first message are in the server's language
    (`job.public_locale`); the answer is in the member's (`locale`)."""
    channel = into or interaction.channel
    task = job.task_id or "-"
    facts = await card_facts(bot.store, job, time.time())  # its place in the server's queue
    try:
        if not isinstance(channel, (*CARD_CHANNELS, discord.PartialMessageable)):
            raise discord.ClientException("no channel to post the card in")
        message = await channel.send(
            embed=build_card(job, facts=facts),
            view=card_view(job, _profile(bot, job)),
            allowed_mentions=NO_MENTIONS,
        )
    except (discord.HTTPException, discord.ClientException):
        log.warning("job=%s task_id=%s: could not post the card", job.id, task, exc_info=True)
        if job.state == "active":
            await reply(interaction, t("submit.done_no_card", locale, job=job.id), locale=locale)
        elif job.state == "uncertain":
            reason = t("provider.submission_unknown", locale)
            await reply(
                interaction, t("submit.uncertain", locale, reason=reason, job=job.id), locale=locale
            )
        bot.tracker.watch(job.id)
        return
    in_thread = into is not None or isinstance(channel, discord.Thread)
    thread: discord.abc.Messageable | None = channel if in_thread else None
    if thread is None and message.guild is not None:  # direct messages have no threads
        try:
            thread = await message.create_thread(name=thread_name(job), auto_archive_duration=1440)
        except discord.HTTPException:
            log.warning("job=%s task_id=%s: could not open a thread", job.id, task, exc_info=True)
    thread_id = getattr(thread, "id", None)
    job = await bot.store.set_card(
        job.id,
        channel_id=message.channel.id,
        message_id=message.id,
        thread_id=thread_id,
        shown=visible_state(job),
    )
    log.info("job=%s task_id=%s card=%s thread=%s", job.id, task, message.id, thread_id)
    bot.tracker.watch(job.id)
    if job.state == "uncertain":
        # Not "submitted", not "failed": the member learns the job may exist and is kept.
        key = (
            "submit.uncertain_unlistable" if job.resolution == "unlistable" else "submit.uncertain"
        )
        reason = t("provider.submission_unknown", locale)
        await reply(interaction, t(key, locale, reason=reason, job=job.id), locale=locale)
        return
    if job.state != "active":
        return
    if message.guild is None:
        await reply(interaction, t("submit.done_dm", locale, job=job.id), locale=locale)
        return
    if thread is None or thread_id is None:
        await reply(interaction, t("submit.done_no_thread", locale, job=job.id), locale=locale)
        return
    if not in_thread:
        await thread.send(
            t("thread.started", job.public_locale, mention=f"<@{job.user_id}>", job=job.id),
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(job.user_id)]),
        )
    where = f"<#{thread_id}>"
    done = t("submit.done", locale, job=job.id, where=where)
    # "... 2 of 5 videos left for you today." where the guild limits videos per member.
    done = await with_left_today(bot, job.guild_id, job.user_id, locale, done)
    await reply(interaction, done, locale=locale)


async def post_missing_card(bot: StoryboardBot, job: Job) -> bool:
    """The card of a job that has none because the bot stopped (a crash mid-submission)
    before posting it: posted where the member asked, without a thread, so they learn
    what became of their storyboard. False to be asked again later."""
    task = job.task_id or "-"
    channel = bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
    facts = await card_facts(bot.store, job, time.time())
    try:
        message = await channel.send(
            embed=build_card(job, facts=facts),
            view=card_view(job, _profile(bot, job)),
            allowed_mentions=NO_MENTIONS,
        )
    except (discord.Forbidden, discord.NotFound):
        log.warning("job=%s task_id=%s: could not post the card", job.id, task, exc_info=True)
        return True
    except discord.HTTPException:
        log.warning("job=%s task_id=%s: could not post the card yet", job.id, task, exc_info=True)
        return False
    await bot.store.set_card(
        job.id,
        channel_id=job.channel_id,
        message_id=message.id,
        thread_id=None,
        shown=visible_state(job),
    )
    log.info("job=%s task_id=%s card=%s posted after a restart", job.id, task, message.id)
    return True
