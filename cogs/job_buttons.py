"""Retry, Remix and Details on every job card: DynamicItems that outlive restarts.

The `custom_id` carries only the job id; everything else is loaded from the
store when the button is pressed.
"""

from __future__ import annotations

import re
from typing import Any, Self

import discord
from discord import ui

from bot.i18n import t
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


DYNAMIC_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (
    RetryButton,
    RemixButton,
    DetailsButton,
    CharacterButton,
)


def character_view(job: Job, locale: str | None = None) -> ui.View:
    """Under a delivered video: make a character from it."""
    view = ui.View(timeout=None)
    view.add_item(CharacterButton(job.id, label=t("buttons.character", locale or job.locale)))
    return view


def card_view(job: Job, locale: str | None = None) -> ui.View:
    """The buttons under a job card, labelled in the requester's language."""
    loc = locale or job.locale
    view = ui.View(timeout=None)
    view.add_item(
        RetryButton(job.id, label=t("buttons.retry", loc), style=discord.ButtonStyle.primary)
    )
    view.add_item(RemixButton(job.id, label=t("buttons.remix", loc)))
    view.add_item(DetailsButton(job.id, label=t("buttons.details", loc)))
    return view
