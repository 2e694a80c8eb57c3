"""Presses on every job button: DynamicItems that outlive restarts.

The `custom_id` carries only the job id (`cogs.job_ids`); everything else is loaded
from the store when the button is pressed, and `cogs.job_handlers` checks the press
against the job's state with the same rule the views draw by.
"""

from __future__ import annotations

import re
from typing import Any, Self

import discord
from discord import ui

from cogs.job_handlers import handle_button
from cogs.job_ids import CANCEL, CHARACTER, CONFIRM, DETAILS, REMIX, RESUBMIT, RETRY, JobButtonId


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
