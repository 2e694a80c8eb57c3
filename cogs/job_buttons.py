"""The buttons on every job card: DynamicItems that outlive restarts.

The `custom_id` carries only the job id; everything else is loaded from the
store when the button is pressed. Which buttons a card shows follows the job's
state (`bot.job_actions`), and a press is checked against the same rule.
"""

from __future__ import annotations

import re
from typing import Any, Self

import discord
from discord import ui

from bot.i18n import t
from bot.job_actions import Action, actions_for
from bot.profiles import ProviderProfile
from bot.store import Job


class JobButtonId:
    """Builds `sb:<action>:<job_id>` and the template that reads it back."""

    def __init__(self, action: str) -> None:
        self.prefix = f"sb:{action}:"
        self.template = re.escape(self.prefix) + r"(?P<job_id>[0-9]{1,20})"

    def build(self, job_id: int) -> str:
        return f"{self.prefix}{job_id}"


RETRY = JobButtonId("retry")
REMIX = JobButtonId("remix")
DETAILS = JobButtonId("details")
CHARACTER = JobButtonId("character")
CANCEL = JobButtonId("cancel")
RESUBMIT = JobButtonId("resubmit")
# The second step of a resubmit: the member read the risk of paying twice and confirms.
CONFIRM = JobButtonId("confirm")


class _JobButton:
    """Shared by the three buttons (a mixin: DynamicItem subclasses need a template)."""

    ids: JobButtonId
    action: str

    def __init__(
        self,
        job_id: int,
        *,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        button: ui.Button[ui.View] = ui.Button(
            label=label or self.action, style=style, custom_id=self.ids.build(job_id)
        )
        super().__init__(button)  # type: ignore[call-arg]
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        # Imported here: the jobs cog imports this module to build card views.
        from cogs.jobs import handle_button

        await handle_button(interaction, self.action, self.job_id)


class RetryButton(_JobButton, ui.DynamicItem[ui.Button[ui.View]], template=RETRY.template):
    ids, action = RETRY, "retry"


class RemixButton(_JobButton, ui.DynamicItem[ui.Button[ui.View]], template=REMIX.template):
    ids, action = REMIX, "remix"


class DetailsButton(_JobButton, ui.DynamicItem[ui.Button[ui.View]], template=DETAILS.template):
    ids, action = DETAILS, "details"


class CharacterButton(_JobButton, ui.DynamicItem[ui.Button[ui.View]], template=CHARACTER.template):
    ids, action = CHARACTER, "character"


class CancelButton(_JobButton, ui.DynamicItem[ui.Button[ui.View]], template=CANCEL.template):
    ids, action = CANCEL, "cancel"


class ResubmitButton(_JobButton, ui.DynamicItem[ui.Button[ui.View]], template=RESUBMIT.template):
    ids, action = RESUBMIT, "resubmit"


class ConfirmButton(_JobButton, ui.DynamicItem[ui.Button[ui.View]], template=CONFIRM.template):
    ids, action = CONFIRM, "confirm"


DYNAMIC_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (
    RetryButton,
    RemixButton,
    DetailsButton,
    CharacterButton,
    CancelButton,
    ResubmitButton,
    ConfirmButton,
)
BUTTONS: dict[Action, tuple[type[_JobButton], str, discord.ButtonStyle]] = {
    "retry": (RetryButton, "buttons.retry", discord.ButtonStyle.primary),
    "resubmit": (ResubmitButton, "buttons.resubmit", discord.ButtonStyle.secondary),
    "remix": (RemixButton, "buttons.remix", discord.ButtonStyle.secondary),
    "details": (DetailsButton, "buttons.details", discord.ButtonStyle.secondary),
    "character": (CharacterButton, "buttons.character", discord.ButtonStyle.secondary),
    "cancel": (CancelButton, "buttons.cancel", discord.ButtonStyle.danger),
}


def character_view(job: Job, locale: str | None = None) -> ui.View:
    """Under a delivered video: make a character from it."""
    view = ui.View(timeout=None)
    view.add_item(CharacterButton(job.id, label=t("buttons.character", locale or job.locale)))
    return view


def card_view(job: Job, profile: ProviderProfile, locale: str | None = None) -> ui.View:
    """The buttons the job's state allows (`bot.job_actions`), in the requester's language.

    Create character sits under the delivered video, not on the card."""
    loc = locale or job.locale
    view = ui.View(timeout=None)
    for action in actions_for(job, profile):
        if action == "character":
            continue
        kind, label, style = BUTTONS[action]
        view.add_item(kind(job.id, label=t(label, loc), style=style))  # type: ignore[arg-type]
    return view


def confirm_view(job: Job, locale: str) -> ui.View:
    """Under the warning that resubmitting may pay twice: the one button that does it."""
    view = ui.View(timeout=None)
    view.add_item(
        ConfirmButton(
            job.id, label=t("buttons.confirm_resubmit", locale), style=discord.ButtonStyle.danger
        )
    )
    return view
