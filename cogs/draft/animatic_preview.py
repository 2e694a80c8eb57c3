"""The draft panel's Watch preview button: the draft's animatic, posted in its thread.

Free (no video service is asked) but not free of CPU, so at most one render a minute per
draft, counted in the store (`bot.store.previews`) so it holds across restarts and
processes. A press on a draft unchanged since its last preview links to that preview.
Every refusal and failure is answered to the member alone; only the video is public.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import discord

from bot.animatic import AnimaticOptions, Reel, animatic_key, options_for
from bot.bot import StoryboardBot
from bot.drafts import Draft
from bot.errors import StoryboardError
from bot.i18n import t
from bot.store.previews import PreviewClaimed, PreviewShown, PreviewWait
from bot.storyboard import ValidStoryboard, validate_storyboard
from bot.timing_preview import TIMING_REFUSALS, written_reel
from bot.transcoder import TranscoderBusy
from bot.video_fit import Stopped
from cogs.replies import NO_MENTIONS, reply

log = logging.getLogger(__name__)

# One render a minute per draft: an animatic takes under a second of a core, but a
# thread of members pressing Preview together must not queue a render each.
PREVIEW_EVERY_SECONDS = 60.0


def _problem(problem: StoryboardError, locale: str) -> StoryboardError:
    """What is wrong, in the member's words, as the reason the preview can't be made."""
    reason = t(problem.key, locale, **problem.fields)
    return StoryboardError("draft.animatic_problem", reason=reason)


def _board(bot: StoryboardBot, draft: Draft, locale: str) -> tuple[ValidStoryboard | Reel, str]:
    """What the preview plays, and the line posted with it. A draft whose lengths don't
    add up to the video's is played as written (`bot.timing_preview`), red past the
    video's end: seeing the overrun is what settles a thread's argument about timing.
    Anything else wrong (no shots, a setting) is said to the member instead."""
    guild = bot.config.guild(draft.guild_id)
    board = draft.storyboard()
    try:
        valid = validate_storyboard(
            board, guild.profile, models=guild.models, max_seconds=guild.max_seconds
        )
    except StoryboardError as problem:
        if problem.key not in TIMING_REFUSALS:
            raise _problem(problem, locale) from problem
        reel = written_reel(board.shots, board.settings, guild.profile, draft.locale)
        text = t(
            "draft.animatic_posted_as_written",
            draft.locale,
            draft=draft.id,
            version=draft.version,
            total=reel.shot_seconds,
            seconds=reel.video_seconds,
        )
        return reel, text
    text = t(
        "draft.animatic_posted",
        draft.locale,
        draft=draft.id,
        version=draft.version,
        shots=len(valid.shots),
        seconds=valid.settings.seconds,
    )
    return valid, text


def _link(bot: StoryboardBot, draft: Draft, channel_id: int, message_id: int) -> str:
    channel = bot.get_partial_messageable(channel_id, guild_id=draft.guild_id)
    return channel.get_partial_message(message_id).jump_url


def _when(moment: float) -> str:
    return discord.utils.format_dt(datetime.fromtimestamp(moment, tz=UTC), "R")


async def post_preview(
    bot: StoryboardBot, interaction: discord.Interaction, draft: Draft, locale: str
) -> None:
    """Answer a Watch preview press by a member who may post in the draft's thread."""
    board, text = _board(bot, draft, locale)
    # Pressed in the thread (the panel is there), Discord says what the bot may do in it.
    # Without Attach Files nothing could be posted, so nothing is rendered (a failed post
    # gives the minute back, and each press would render again).
    in_thread = interaction.channel_id == (draft.thread_id or draft.channel_id)
    if in_thread and not interaction.app_permissions.attach_files:
        raise StoryboardError("draft.animatic_not_posted")
    image = await bot.store.drafts.image(draft.id)
    reference = image.data if image is not None else None
    options = options_for(bot.config.guild(draft.guild_id))
    key = animatic_key(board, reference, options)
    previews = bot.store.previews
    claim = await previews.claim(
        draft.id, key, now=bot.discord_clock(), every=PREVIEW_EVERY_SECONDS
    )
    if isinstance(claim, PreviewShown):
        link = _link(bot, draft, claim.channel_id, claim.message_id)
        await reply(interaction, t("draft.animatic_same", locale, link=link), locale=locale)
        return
    if isinstance(claim, PreviewWait):
        if claim.rendering:
            text = t("draft.animatic_rendering", locale)
        else:
            text = t("draft.animatic_wait", locale, when=_when(claim.until))
        await reply(interaction, text, locale=locale)
        return
    try:
        await interaction.response.defer(ephemeral=True, thinking=True)
        message = await _render_and_post(
            bot, draft, (board, text), reference, options, key, claim, locale
        )
    except BaseException:
        await _give_back(bot, draft, claim)
        raise
    link = message.jump_url
    await reply(interaction, t("draft.animatic_done", locale, link=link), locale=locale)


async def _give_back(bot: StoryboardBot, draft: Draft, claim: PreviewClaimed) -> None:
    """A render that did not post gives its minute back; if even that fails (the bot is
    stopping and the store closed), the minute simply runs out."""
    try:
        await bot.store.previews.failed(draft.id, claim)
    except Exception:
        log.warning("draft=%s: preview claim not given back", draft.id, exc_info=True)


async def _render_and_post(
    bot: StoryboardBot,
    draft: Draft,
    shown: tuple[ValidStoryboard | Reel, str],
    reference: bytes | None,
    options: AnimaticOptions,
    key: str,
    claim: PreviewClaimed,
    locale: str,
) -> discord.Message:
    board, text = shown
    channel_id = draft.thread_id or draft.channel_id
    with tempfile.TemporaryDirectory(prefix="animatic-") as tmp:
        path = Path(tmp) / f"draft-{draft.id}-preview.mp4"
        try:
            await bot.transcoder.animatic(
                board, path, reference=reference, options=options, wait=False
            )
        except (TranscoderBusy, Stopped) as busy:
            raise StoryboardError("draft.animatic_busy") from busy
        except StoryboardError as problem:  # a reference image that can't be drawn
            raise _problem(problem, locale) from problem
        channel = bot.get_partial_messageable(channel_id, guild_id=draft.guild_id)
        try:
            message = await channel.send(
                text, file=discord.File(path, filename=path.name), allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            log.warning("draft=%s: preview not posted (%s)", draft.id, exc.status)
            raise StoryboardError("draft.animatic_not_posted") from exc
    await bot.store.previews.posted(
        draft.id, key, started_at=claim.started_at, channel_id=channel_id, message_id=message.id
    )
    log.info("draft=%s preview posted as message=%s", draft.id, message.id)
    return message
