"""Presses on the draft panel's buttons and shot pickers: DynamicItems that outlive restarts.

The panel (`cogs.draft.panel`) draws plain components with these ids; a press is
matched here by its id and handed to `cogs.draft.actions`.
"""

from __future__ import annotations

import re
from typing import Any, Self

import discord
from discord import ui

from cogs.draft.actions import on_panel_button, on_shot_picked
from cogs.draft.panel import PanelId, PickId, panel_button, shot_picker


class PanelButton(ui.DynamicItem[ui.Button[ui.View]], template=PanelId.template):
    def __init__(self, action: str, draft_id: int, *, label: str = "") -> None:
        super().__init__(panel_button(action, draft_id, label=label))
        self.action, self.draft_id = action, draft_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["action"], int(match["draft_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await on_panel_button(interaction, self.action, self.draft_id)


class ShotPicker(ui.DynamicItem[ui.Select[ui.View]], template=PickId.template):
    """Options are `<shot id>:<version seen>`, so a stale pick is caught."""

    def __init__(
        self, action: str, draft_id: int, options: list[discord.SelectOption] | None = None
    ) -> None:
        super().__init__(
            shot_picker(action, draft_id, options or [discord.SelectOption(label="-")])
        )
        self.action, self.draft_id = action, draft_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["action"], int(match["draft_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        shot_id, version = (int(x) for x in self.item.values[0].split(":"))
        await on_shot_picked(interaction, self.action, self.draft_id, shot_id, version)


DYNAMIC_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (PanelButton, ShotPicker)
