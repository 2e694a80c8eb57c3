"""Answering members: one helper that knows whether the interaction was answered."""

from __future__ import annotations

import io
import logging
import secrets
from typing import Any

import discord

from bot.errors import StoryboardError
from bot.i18n import t
from bot.store import Job

log = logging.getLogger(__name__)
NO_MENTIONS = discord.AllowedMentions.none()
# Room left in a 2000-character message for echoing what the member typed.
ECHO_INLINE_LIMIT = 1500
MESSAGE_LIMIT = 2000


def describe_error(error: BaseException, locale: str, *, context: str = "") -> str:
    """Words for a member: the catalogue message, or a reference for the logs."""
    if isinstance(error, StoryboardError):
        return t(error.key, locale, **error.fields)
    ref = secrets.token_hex(2).upper()
    log.error("unexpected error ref=%s %s", ref, context, exc_info=error)
    return t("submit.unexpected", locale, ref=ref)


async def report_error(
    interaction: discord.Interaction,
    error: BaseException,
    locale: str,
    *,
    echo: str | None = None,
    prefix_key: str | None = None,
) -> None:
    """Tell the member what went wrong (ephemeral); never raise while doing so."""
    text = describe_error(error, locale, context=f"interaction={interaction.id}")
    if prefix_key:
        text = t(prefix_key, locale, reason=text)
    try:
        await reply(interaction, text, echo=echo, locale=locale)
    except discord.HTTPException:
        log.warning("could not answer interaction=%s", interaction.id, exc_info=True)


def not_submitted_text(job: Job, locale: str) -> str:
    """Why the provider refused a stored job, for the member."""
    reason = t(job.error_key or "provider.down", locale, **job.error_fields)
    return t("submit.failed", locale, reason=reason)


async def reply_not_submitted(
    interaction: discord.Interaction, job: Job, locale: str, *, echo: str | None = None
) -> None:
    """The provider refused a stored job: its reason, and the member's text back."""
    await reply(interaction, not_submitted_text(job, locale), echo=echo, locale=locale)


def _fence(text: str) -> str:
    # A member's own ``` must not close our code block.
    return "```\n" + text.replace("```", "`\u200b``") + "\n```"


async def reply(
    interaction: discord.Interaction,
    text: str,
    *,
    ephemeral: bool = True,
    echo: str | None = None,
    locale: str = "en-US",
    view: discord.ui.View | None = None,
) -> None:
    """Send `text` (and optionally the member's own text back, and buttons) with no pings.

    Long echoes go as a file so nothing typed is cut off.
    """
    extra: dict[str, Any] = {} if view is None else {"view": view}
    file: discord.File | None = None
    if echo:
        inline = f"{text}\n{t('submit.your_text', locale)}\n{_fence(echo)}"
        # Fencing lengthens the echo (one character per ```): measure the whole message.
        if len(echo) <= ECHO_INLINE_LIMIT and len(inline) <= MESSAGE_LIMIT:
            text = inline
        else:
            text = f"{text}\n{t('submit.your_text', locale)}"
            file = discord.File(io.BytesIO(echo.encode()), filename="storyboard.txt")
    if file is not None:
        extra["file"] = file
    if interaction.response.is_done():
        await interaction.followup.send(
            text, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS, **extra
        )
    else:
        await interaction.response.send_message(
            text, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS, **extra
        )
