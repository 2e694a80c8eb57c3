"""The Edit & redo form: a job's storyboard as `[6s] scene` lines, and its length,
orientation and model as selects (Discord modals take string selects in a Label).

The form only draws and reads; what a submit does is handed in (`cogs.job_handlers`),
so imports run from the handlers to the form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import ui

from bot.config import GuildSettings
from bot.i18n import t
from bot.redo import prefill, redo_shots
from bot.store import Job
from bot.storyboard import Storyboard, StoryboardSettings
from cogs.replies import report_error

# Discord's limits: a modal title, a text input, a select's options, a description.
TITLE_MAX = 45
TEXT_MAX = 4000
OPTIONS_MAX = 25
DESCRIPTION_MAX = 100
ORIENTATIONS = ("landscape", "portrait")


def _select(
    custom_id: str, options: list[tuple[str, str]], current: str
) -> ui.Select[ui.View] | None:
    """A required select with `current` chosen; None when there is nothing to offer."""
    if not options:
        return None
    return ui.Select(
        custom_id=custom_id,
        options=[
            discord.SelectOption(label=label, value=value, default=value == current)
            for label, value in options[:OPTIONS_MAX]
        ],
    )


class RedoForm(ui.Modal):
    """The storyboard, prefilled, and the settings to change before it is sent again."""

    def __init__(
        self,
        job: Job,
        locale: str,
        guild: GuildSettings,
        *,
        opened_by: int,
        submit: Callable[[discord.Interaction, RedoForm], Awaitable[None]],
    ) -> None:
        super().__init__(title=t("jobs.remix_title", locale, job=job.id)[:TITLE_MAX], timeout=900)
        self.job, self.locale, self._submit = job, locale, submit
        # From what opened the form, not the submit: a form submitted twice is one job.
        self.request_key = f"remix:{job.id}:{opened_by}"
        s = job.storyboard.settings
        self.text: ui.TextInput[RedoForm] = ui.TextInput(
            custom_id="storyboard",
            style=discord.TextStyle.paragraph,
            default=prefill(job.storyboard.shots)[:TEXT_MAX],
            max_length=TEXT_MAX,
        )
        self.add_item(
            ui.Label(
                text=t("jobs.remix_label", locale),
                description=t("redo.text_hint", locale)[:DESCRIPTION_MAX],
                component=self.text,
            )
        )
        seconds = [(t("card.seconds", locale, seconds=n), str(n)) for n in guild.allowed_seconds]
        orientations = [(t(f"card.{o}", locale), o) for o in ORIENTATIONS]
        self.seconds = _select("seconds", seconds, str(s.seconds))
        self.orientation = _select("orientation", orientations, s.orientation)
        self.model = _select("model", [(m, m) for m in guild.models], s.model)
        for key, select in (
            ("redo.seconds_label", self.seconds),
            ("redo.orientation_label", self.orientation),
            ("redo.model_label", self.model),
        ):
            if select is not None:
                self.add_item(ui.Label(text=t(key, locale), component=select))

    @staticmethod
    def _picked(select: ui.Select[ui.View] | None, current: str) -> str:
        return select.values[0] if select is not None and select.values else current

    def settings(self) -> StoryboardSettings:
        """The job's settings with what the member picked (checked by the caller)."""
        s = self.job.storyboard.settings
        seconds = self._picked(self.seconds, str(s.seconds))
        orientation = self._picked(self.orientation, s.orientation)
        return s.model_copy(
            update={
                "model": self._picked(self.model, s.model),
                # Discord sends only offered values; anything else is refused as a length.
                "seconds": int(seconds) if seconds.isdecimal() and seconds.isascii() else 0,
                "orientation": orientation if orientation in ORIENTATIONS else s.orientation,
            }
        )

    def board(self, author_id: int) -> Storyboard:
        settings = self.settings()
        shots = redo_shots(
            self.text.value,
            before=self.job.storyboard.shots,
            seconds=settings.seconds,
            author_id=author_id,
        )
        return Storyboard(shots=tuple(shots), settings=settings)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._submit(interaction, self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error, self.locale, echo=self.text.value)
