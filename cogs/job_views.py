"""The buttons a job's messages carry, as the job's state allows (`bot.job_actions`).

Views only draw: each button is a plain one with the job's custom id, and the press
is handled by the DynamicItem registered for that id (`cogs.job_buttons`).
"""

from __future__ import annotations

from collections.abc import Iterable

import discord
from discord import ui

from bot.i18n import t
from bot.job_actions import Action, actions_for
from bot.profiles import ProviderProfile
from bot.store import Job
from cogs.job_ids import (
    CANCEL,
    CHARACTER,
    CONFIRM,
    DETAILS,
    REMIX,
    RESUBMIT,
    RETRY,
    JobButtonId,
)

BUTTONS: dict[Action, tuple[JobButtonId, str, discord.ButtonStyle]] = {
    "retry": (RETRY, "buttons.retry", discord.ButtonStyle.primary),
    "resubmit": (RESUBMIT, "buttons.resubmit", discord.ButtonStyle.secondary),
    "remix": (REMIX, "buttons.remix", discord.ButtonStyle.secondary),
    "details": (DETAILS, "buttons.details", discord.ButtonStyle.secondary),
    "character": (CHARACTER, "buttons.character", discord.ButtonStyle.secondary),
    "cancel": (CANCEL, "buttons.cancel", discord.ButtonStyle.danger),
}


def _button(
    ids: JobButtonId, job_id: int, label: str, style: discord.ButtonStyle
) -> ui.Button[ui.View]:
    # A plain button: presses reach the DynamicItem registered for the id's template.
    return ui.Button(label=label, style=style, custom_id=ids.build(job_id))


def _action_buttons(view: ui.View, job: Job, actions: Iterable[Action], locale: str) -> ui.View:
    for action in actions:
        ids, label, style = BUTTONS[action]
        view.add_item(_button(ids, job.id, t(label, locale), style))
    return view


def card_view(job: Job, profile: ProviderProfile, locale: str | None = None) -> ui.View:
    """The buttons the job's state allows (`bot.job_actions`), in the requester's language,
    and a Watch link once the video is posted.

    Create character sits under the delivered video (`video_view`), not on the card."""
    loc = locale or job.public_locale
    actions = [a for a in actions_for(job, profile) if a != "character"]
    view = _action_buttons(ui.View(timeout=None), job, actions, loc)
    if job.state == "completed" and job.delivery_message_id is not None:
        view.add_item(ui.Button(label=t("buttons.watch", loc), url=delivery_url(job)))
    return view


def video_view(job: Job, profile: ProviderProfile, locale: str | None = None) -> ui.View:
    """Under the delivered video: every button the finished job offers (Edit & redo,
    Details, Create character where the provider can), and no Watch link: this message
    is the video."""
    return _action_buttons(
        ui.View(timeout=None), job, actions_for(job, profile), locale or job.public_locale
    )


def delivery_url(job: Job) -> str:
    """A link to the message that delivered the job's video."""
    where = job.thread_id or job.card_channel_id or job.channel_id
    return f"https://discord.com/channels/{job.guild_id or '@me'}/{where}/{job.delivery_message_id}"


def confirm_view(job: Job, locale: str) -> ui.View:
    """Under the warning that resubmitting may pay twice: the one button that does it."""
    view = ui.View(timeout=None)
    label = t("buttons.confirm_resubmit", locale)
    view.add_item(_button(CONFIRM, job.id, label, discord.ButtonStyle.danger))
    return view
