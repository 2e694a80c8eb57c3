"""Modals of the draft panel: a shot, the settings, the reference image."""

from __future__ import annotations

from typing import Protocol

import discord
from discord import ui

from bot.config import GuildSettings
from bot.drafts import Draft, DraftShot
from bot.errors import StoryboardError
from bot.i18n import t
from bot.storyboard import MAX_SCENE_CHARS, Shot, StoryboardSettings, check_scenes


class DraftActions(Protocol):
    """What a draft modal hands its submit to (`cogs.draft.actions.DraftActions`): the
    modals know this much of it, and imports run from the actions to the modals only."""

    async def shot_submitted(self, interaction: discord.Interaction, modal: ShotModal) -> None: ...

    async def settings_submitted(
        self, interaction: discord.Interaction, modal: SettingsModal
    ) -> None: ...

    async def image_submitted(
        self, interaction: discord.Interaction, modal: ImageModal
    ) -> None: ...

    async def report(
        self,
        interaction: discord.Interaction,
        error: BaseException,
        locale: str,
        echo: str | None = None,
    ) -> None: ...


def parse_duration(raw: str) -> int | None:
    text = raw.strip().lower().removesuffix("sec").removesuffix("s").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise StoryboardError("draft.bad_duration", value=raw.strip()[:20])
    return int(text)


class ShotModal(ui.Modal):
    """Add a shot, or edit one against the version the member saw."""

    def __init__(
        self,
        actions: DraftActions,
        draft: Draft,
        locale: str,
        shot: DraftShot | None = None,
        seen_version: int | None = None,
    ) -> None:
        number = draft.number_of(shot.id) if shot else len(draft.shots) + 1
        key = "draft.edit_title" if shot else "draft.add_title"
        super().__init__(title=t(key, locale, number=number)[:45], timeout=900)
        self.actions, self.draft, self.locale = actions, draft, locale
        self.shot, self.seen_version = shot, seen_version
        self.duration: ui.TextInput[ShotModal] = ui.TextInput(
            custom_id="duration",
            required=False,
            max_length=6,
            default=str(shot.duration) if shot and shot.duration else None,
            placeholder=t("draft.duration_placeholder", locale)[:100],
        )
        self.scene: ui.TextInput[ShotModal] = ui.TextInput(
            custom_id="scene",
            style=discord.TextStyle.paragraph,
            max_length=MAX_SCENE_CHARS,
            default=shot.scene if shot else None,
        )
        self.add_item(
            ui.Label(
                text=t("draft.duration_label", locale),
                description=t("draft.duration_hint", locale)[:100],
                component=self.duration,
            )
        )
        self.add_item(ui.Label(text=t("draft.scene_label", locale), component=self.scene))

    def read(self) -> tuple[str, int | None]:
        duration = parse_duration(self.duration.value)
        shot = Shot(scene=self.scene.value, duration=duration)
        check_scenes([shot])
        return shot.scene, duration

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.actions.shot_submitted(interaction, self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await self.actions.report(interaction, error, self.locale, echo=self.scene.value)


def _select(custom_id: str, options: list[tuple[str, str]], current: str) -> ui.Select[ui.View]:
    return ui.Select(
        custom_id=custom_id,
        options=[
            discord.SelectOption(label=label, value=value, default=value == current)
            for label, value in options
        ],
    )


class SettingsModal(ui.Modal):
    """Model, length, orientation, watermark, private: five selects, the draft's version held."""

    def __init__(
        self, actions: DraftActions, draft: Draft, locale: str, guild: GuildSettings
    ) -> None:
        super().__init__(title=t("draft.settings_title", locale)[:45], timeout=900)
        self.actions, self.draft, self.locale = actions, draft, locale
        s = draft.settings
        yes_no = [(t("draft.yes", locale), "yes"), (t("draft.no", locale), "no")]
        self.model = _select("model", [(m, m) for m in guild.models[:25]], s.model)
        self.seconds = _select(
            "seconds",
            [(t("card.seconds", locale, seconds=n), str(n)) for n in guild.allowed_seconds],
            str(s.seconds),
        )
        self.orientation = _select(
            "orientation",
            [(t("card.landscape", locale), "landscape"), (t("card.portrait", locale), "portrait")],
            s.orientation,
        )
        self.watermark = _select("watermark", yes_no, "yes" if s.watermark else "no")
        self.private = _select("private", yes_no, "yes" if s.private else "no")
        for key, item in (
            ("draft.model_label", self.model),
            ("draft.seconds_label", self.seconds),
            ("draft.orientation_label", self.orientation),
            ("draft.watermark_label", self.watermark),
            ("draft.private_label", self.private),
        ):
            self.add_item(ui.Label(text=t(key, locale), component=item))

    @staticmethod
    def _value(select: ui.Select[ui.View], fallback: str) -> str:
        return select.values[0] if select.values else fallback

    def read(self) -> StoryboardSettings:
        s = self.draft.settings
        return s.model_copy(
            update={
                "model": self._value(self.model, s.model),
                "seconds": int(self._value(self.seconds, str(s.seconds))),
                "orientation": self._value(self.orientation, s.orientation),
                "watermark": self._value(self.watermark, "yes" if s.watermark else "no") == "yes",
                "private": self._value(self.private, "yes" if s.private else "no") == "yes",
            }
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.actions.settings_submitted(interaction, self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await self.actions.report(interaction, error, self.locale)


class ImageModal(ui.Modal):
    def __init__(self, actions: DraftActions, draft: Draft, locale: str) -> None:
        super().__init__(title=t("draft.image_title", locale)[:45], timeout=900)
        self.actions, self.draft, self.locale = actions, draft, locale
        self.upload: ui.FileUpload[ImageModal] = ui.FileUpload(
            custom_id="image", required=True, max_values=1
        )
        self.add_item(
            ui.Label(
                text=t("modal.image_label", locale),
                description=t("modal.image_hint", locale)[:100],
                component=self.upload,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.actions.image_submitted(interaction, self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await self.actions.report(interaction, error, self.locale)
