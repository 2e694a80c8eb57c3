"""The Fix button under a refused quick storyboard: what the member typed, kept to reopen.

A button's custom_id holds 100 characters and a form 4 × 4000, so the text is kept in
the store (`form_echoes`, a day) and the button carries its id: `sb:fix:<echo id>`.
The image, when one was in hand, is kept in the image stash the same way. Pressing the
button (`cogs.storyboard`) reopens the form filled in, after a restart too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import discord
from discord import ui

from bot.bot import StoryboardBot
from bot.errors import StoryboardError
from bot.i18n import t
from bot.store import Job
from bot.store.echoes import FormEcho
from bot.storyboard import StoryboardSettings
from bot.timing_preview import TIMING_REFUSALS
from bot.videos_api import ReferenceImage
from cogs.attachments import fetch_reference_image
from cogs.job_ids import DETAILS
from cogs.replies import describe_error, not_submitted_text, reply
from cogs.visibility import can_view_channel, is_row_id

log = logging.getLogger(__name__)

FIX_PREFIX = "sb:fix:"
FIX_TEMPLATE = re.escape(FIX_PREFIX) + r"(?P<echo_id>[0-9]{1,20})"
# Watch timing, beside Fix under a refusal for the shots' timing (`cogs.fix_preview`).
TIMING_PREFIX = "sb:fixtime:"
TIMING_TEMPLATE = re.escape(TIMING_PREFIX) + r"(?P<echo_id>[0-9]{1,20})"
# Refusals a new form can't mend: the storyboard already made a job (a second form would
# pay again; so did one whose answer could not be recorded), or the server can't make
# videos at all.
NO_FIX = ("storyboard.already_submitted", "submit.not_recorded", "guild.")
# Refusals of the image itself: the reopened form asks for another one.
IMAGE_REFUSALS = ("image.", "submit.image_", "first.image_lost")


def fixable(key: str) -> bool:
    return not key.startswith(NO_FIX)


def fix_view(
    echo_id: int, locale: str, *, job_id: int | None = None, timing: bool = False
) -> ui.View:
    """Fix; Watch timing when the shots' timing was refused; for a job the provider
    refused, its Details (the provider's own words)."""
    view = ui.View(timeout=None)
    # Plain buttons: presses reach the DynamicItems registered for their ids.
    view.add_item(
        ui.Button(
            label=t("buttons.fix", locale),
            style=discord.ButtonStyle.primary,
            custom_id=f"{FIX_PREFIX}{echo_id}",
        )
    )
    if timing:
        view.add_item(
            ui.Button(
                label=t("buttons.watch_timing", locale), custom_id=f"{TIMING_PREFIX}{echo_id}"
            )
        )
    if job_id is not None:
        view.add_item(
            ui.Button(label=t("buttons.details", locale), custom_id=DETAILS.build(job_id))
        )
    return view


async def refuse(
    bot: StoryboardBot,
    interaction: discord.Interaction,
    refusal: StoryboardError | Job,
    locale: str,
    *,
    echo: str,
    settings: StoryboardSettings,
    fields: Sequence[str],
    image: ReferenceImage | None = None,
    attachment: discord.Attachment | None = None,
    stash_id: int | None = None,
) -> None:
    """Say why nothing was made (a bad input, or a job the provider refused), give the
    member's text back, and offer Fix (with the refused job's Details)."""
    if isinstance(refusal, Job):
        text, key, job_id = not_submitted_text(refusal, locale), refusal.error_key, refusal.id
    else:
        text, key, job_id = describe_error(refusal, locale), refusal.key, None
    echo_id = await _keep_for_fix(
        bot,
        interaction,
        error_key=key or "",
        settings=settings,
        fields=fields,
        image=image,
        attachment=attachment,
        stash_id=stash_id,
    )
    view = None
    if echo_id is not None:
        timing = key in TIMING_REFUSALS
        text = f"{text}\n{t('fix.hint_timing' if timing else 'fix.hint', locale)}"
        view = fix_view(echo_id, locale, job_id=job_id, timing=timing)
    try:
        await reply(interaction, text, echo=echo, locale=locale, view=view)
    except discord.HTTPException:
        log.warning("could not answer interaction=%s", interaction.id, exc_info=True)


async def _keep_for_fix(
    bot: StoryboardBot,
    interaction: discord.Interaction,
    *,
    error_key: str,
    settings: StoryboardSettings,
    fields: Sequence[str],
    image: ReferenceImage | None,
    attachment: discord.Attachment | None,
    stash_id: int | None,
) -> int | None:
    """Store what the member typed (and their image, if it was not what was refused);
    the echo's id, or None when there is nothing a Fix could mend or storing failed."""
    if not fixable(error_key):
        return None
    try:
        kept = None
        if not error_key.startswith(IMAGE_REFUSALS):
            kept = stash_id or await _stash(bot, interaction, image, attachment)
        return await bot.store.echoes.save(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id or 0,
            settings=settings,
            fields=tuple(fields),
            stash_id=kept,
        )
    except Exception:
        # The refusal itself must still reach the member, with their text in it.
        log.warning(
            "could not keep the form of interaction=%s for Fix", interaction.id, exc_info=True
        )
        return None


async def _stash(
    bot: StoryboardBot,
    interaction: discord.Interaction,
    image: ReferenceImage | None,
    attachment: discord.Attachment | None,
) -> int | None:
    if image is None and attachment is not None:
        # Refused before the image was read (a bad sum, say): read it now, so the
        # reopened form still has it. Best effort: a bad image just isn't kept.
        settings = bot.config.settings_for(interaction.guild_id)
        try:
            image = await fetch_reference_image(attachment, settings, bot.image_slots)
        except StoryboardError:
            log.info("interaction=%s: the image could not be kept for Fix", interaction.id)
            return None
    if image is None:
        return None
    return await bot.store.drafts.stash_image(interaction.user.id, image)


async def own_echo(
    bot: StoryboardBot, interaction: discord.Interaction, echo_id: int
) -> FormEcho | None:
    """The echo if it is this member's, from this server, in a channel they still see;
    None otherwise, as if it did not exist."""
    if not is_row_id(echo_id):
        return None
    echo = await bot.store.echoes.find(echo_id)
    if echo is None or echo.user_id != interaction.user.id:
        return None
    if echo.guild_id != interaction.guild_id:
        return None
    if echo.guild_id is not None and not can_view_channel(interaction, (echo.channel_id,)):
        return None
    return echo
