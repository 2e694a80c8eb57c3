"""What a press on a job's button does: checked against the job's state, then done.

Retry, confirm-resubmit, Edit & redo (its form, `cogs.redo_form`), Create character,
Cancel and Details. Each paid one makes the one request key its press stands for
(`bot.job_actions`)."""

from __future__ import annotations

import logging

import discord

from bot.bot import StoryboardBot
from bot.characters import CharacterSource
from bot.errors import StoryboardError
from bot.i18n import pick_locale, t
from bot.job_actions import actions_for, request_key_for
from bot.quota_view import check_before_form
from bot.store import Job
from bot.storyboard import Storyboard
from bot.submission import SubmitOrder
from bot.tree import ensure_allowed
from cogs.audience import guild_locale
from cogs.characters import submit_character
from cogs.job_card import size_text, status_text
from cogs.job_posting import post_job_card
from cogs.job_views import confirm_view
from cogs.redo_form import RedoForm
from cogs.replies import NO_MENTIONS, reply, reply_not_submitted, report_error
from cogs.visibility import (
    visible_job,
)

log = logging.getLogger(__name__)
# Presses that submit a paid job at once (resubmit only asks; remix opens a modal).
PAYS_NOW = frozenset({"retry", "confirm", "character"})


def _bot(interaction: discord.Interaction) -> StoryboardBot:
    client = interaction.client
    if not isinstance(client, StoryboardBot):
        raise RuntimeError("job buttons need the Storyboard bot")
    return client


def may_act_on(job: Job, interaction: discord.Interaction) -> bool:
    """The member who asked, or anyone who may manage messages here."""
    return interaction.user.id == job.user_id or interaction.permissions.manage_messages


async def own_job(interaction: discord.Interaction, job_id: int, locale: str) -> Job | None:
    """The job if the member can see it and may act on it; otherwise say why (a job they
    can't see is "not found", like a missing one)."""
    job = await visible_job(interaction, _bot(interaction).store, job_id)
    if job is None:
        await reply(interaction, t("jobs.not_found", locale, job=job_id), locale=locale)
        return None
    if not may_act_on(job, interaction):
        await reply(
            interaction, t("jobs.not_yours", locale, mention=f"<@{job.user_id}>"), locale=locale
        )
        return None
    return job


async def handle_button(interaction: discord.Interaction, action: str, job_id: int) -> None:
    locale = pick_locale(str(interaction.locale))
    bot = _bot(interaction)
    held: tuple[int, str] | None = None
    try:
        ensure_allowed(bot.config, interaction)
        job = await own_job(interaction, job_id, locale)
        if job is None:
            return
        profile = bot.config.settings_for(job.guild_id).profile
        # A confirm is the second step of a resubmit; everything else must fit the state now.
        allowed = actions_for(job, profile)
        step = "resubmit" if action == "confirm" else action
        if step not in allowed:
            # A button from an old card: say where the job stands, create nothing.
            await reply(
                interaction,
                t("jobs.state_now", locale, job=job.id, status=status_text(job, locale)),
                locale=locale,
            )
            if interaction.message is not None and action != "character":
                await _refresh_card(bot, job)
            return
        if action in PAYS_NOW:
            # Checked and taken with no await between: a double click pays once here, and
            # the request key makes it once across clicks, restarts and processes too.
            if (job.id, step) in bot.pressing:
                await reply(
                    interaction, t("jobs.already_working", locale, job=job.id), locale=locale
                )
                return
            held = (job.id, step)
            bot.pressing.add(held)
        if action == "details":
            await reply(interaction, details_text(job, locale), locale=locale)
        elif action == "cancel":
            await cancel_job(bot, interaction, job, locale)
        elif action == "retry":
            key = request_key_for("retry", job)
            await resubmit(interaction, job, _same_board(job), locale, key=key)
        elif action == "resubmit":
            # The member decides, told plainly that the first job may exist and be charged.
            await interaction.response.send_message(
                t(_resubmit_warning(job), locale, job=job.id),
                view=confirm_view(job, locale),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
        elif action == "confirm":
            key = request_key_for("resubmit", job)
            await resubmit(interaction, job, _same_board(job), locale, key=key)
        elif action == "remix":
            # Over a quota or in the cooldown: said now, before the member edits anything.
            await check_before_form(
                bot, job.guild_id, interaction.user.id, seconds=job.storyboard.settings.seconds
            )
            form = RedoForm(
                job,
                locale,
                bot.config.settings_for(job.guild_id),
                opened_by=interaction.id,
                submit=submit_redo,
            )
            await interaction.response.send_modal(form)
        elif action == "character":
            assert job.task_id is not None
            await interaction.response.defer(ephemeral=True, thinking=True)
            source = CharacterSource(from_task=job.task_id, from_job=job.id)
            into = (
                bot.get_partial_messageable(job.thread_id, guild_id=job.guild_id)
                if job.thread_id
                else None
            )
            await submit_character(
                bot,
                interaction,
                source,
                "",
                locale,
                into=into,
                request_key=request_key_for("character", job),
            )
    except Exception as error:
        await report_error(interaction, error, locale)
    finally:
        if held is not None:
            bot.pressing.discard(held)


def _resubmit_warning(job: Job) -> str:
    if job.state == "expired":
        return "jobs.resubmit_expired_warning"
    if job.resolution == "unlistable":
        return "jobs.resubmit_unlistable_warning"
    return "jobs.resubmit_warning"


def _same_board(job: Job) -> Storyboard:
    return Storyboard(shots=job.storyboard.shots, settings=job.storyboard.settings)


async def _refresh_card(bot: StoryboardBot, job: Job) -> None:
    """An old card's buttons no longer fit: show the card as the job stands (best effort)."""
    # The tracker's own card edit (one place that edits cards), not a copy of it.
    if job.card_message_id is not None and bot.tracker.events is not None:
        await bot.tracker.events.show_progress(job)


async def cancel_job(
    bot: StoryboardBot, interaction: discord.Interaction, job: Job, locale: str
) -> None:
    """Cancel a job still queued at the provider (from `/video cancel` or the card)."""
    settings = bot.config.settings_for(job.guild_id)
    if settings.profile.delete_path is None:
        raise StoryboardError(
            "provider.not_supported", operation="cancel", profile=settings.profile.name
        )
    if job.state != "active" or job.provider_status != "queued" or job.task_id is None:
        await reply(interaction, t("jobs.cancel_too_late", locale, job=job.id), locale=locale)
        return
    # The provider may take a while (paced, retried): answer within Discord's 3 s first.
    await interaction.response.defer(ephemeral=True, thinking=True)
    await bot.tracker.client_for(job).delete(job.task_id)
    job = await bot.store.mark_cancelled(job.id)
    if job.state != "cancelled":  # it moved on at the provider meanwhile
        await reply(interaction, t("jobs.cancel_too_late", locale, job=job.id), locale=locale)
        return
    await bot.store.mark_delivered(job.id, state="cancelled")
    await reply(interaction, t("jobs.cancelled", locale, job=job.id), locale=locale)
    if bot.tracker.events is not None:
        await bot.tracker.events.show_progress(job)


# The provider's own words about a failure, shown in Details (the card says what to do).
PROVIDER_SAID_CHARS = 400


def _provider_said(job: Job, locale: str) -> str:
    message = job.error_fields.get("message")
    if job.state not in ("failed", "submit_failed") or not message:
        return ""
    code = str(job.error_fields.get("code") or "-").replace("`", "'")  # shown in a code span
    said = str(message)[:PROVIDER_SAID_CHARS].replace("```", "`\u200b``")
    return t("jobs.details_provider_said", locale, code=code) + "\n```\n" + said + "\n```"


def details_text(job: Job, locale: str) -> str:
    s = job.storyboard.settings
    said = _provider_said(job, locale)
    lines = [
        t("jobs.details_header", locale, job=job.id, task_id=job.task_id or "-"),
        *([said] if said else []),
        t(
            "jobs.details_settings",
            locale,
            model=s.model,
            seconds=s.seconds,
            size=size_text(job.storyboard.size, s.orientation, locale),
            watermark=t("draft.yes" if s.watermark else "draft.no", locale),
            private=t("draft.yes" if s.private else "draft.no", locale),
        ),
        "```\n" + job.storyboard.prompt.replace("```", "`\u200b``")[: 1700 - len(said)] + "\n```",
    ]
    return "\n".join(lines)


async def resubmit(
    interaction: discord.Interaction, job: Job, board: Storyboard, locale: str, *, key: str
) -> None:
    """A new job from `board` with the old job's image (a character job makes the same
    character again), carded in the old job's thread. `key` is the request key: the same
    press or modal opening always makes the same key, so a second submit pays nothing."""
    bot = _bot(interaction)
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
    with bot.busy():
        image = await bot.store.job_image(job.id)
        order = SubmitOrder(
            request_key=key,
            guild_id=job.guild_id,
            channel_id=job.thread_id or job.card_channel_id or job.channel_id,
            user_id=interaction.user.id,
            locale=locale,
            guild_locale=guild_locale(interaction),
            storyboard=board,
            image=image,
            filesize_limit=interaction.filesize_limit,
            character=job.character if job.kind == "character" else None,
        )
        new = await bot.submitter.submit(order)
        if new.state == "submit_failed":
            await reply_not_submitted(interaction, new, locale, echo=board_text(board))
            return
        into = (
            bot.get_partial_messageable(job.thread_id, guild_id=job.guild_id)
            if job.thread_id
            else None
        )
        await post_job_card(bot, interaction, new, locale, into=into)


def board_text(board: Storyboard) -> str:
    return "\n\n".join(s.scene for s in board.shots)


async def submit_redo(interaction: discord.Interaction, form: RedoForm) -> None:
    """The Edit & redo form's submit: the job still reachable, then a new job from the
    form under its one request key."""
    bot = _bot(interaction)
    ensure_allowed(bot.config, interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    # Checked again: the member may have lost the channel while the form was open.
    job = await own_job(interaction, form.job.id, form.locale)
    if job is None:
        return
    # The settings picked are checked where every storyboard is (`validate_storyboard` runs
    # `check_settings` under the guild's rules now), before anything is stored or sent.
    board = form.board(interaction.user.id)
    await resubmit(interaction, job, board, form.locale, key=form.request_key)
