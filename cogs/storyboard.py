"""`/storyboard`: the quick path from a few scenes to a video in a thread."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self, cast

import discord
from discord import app_commands, ui
from discord.app_commands import locale_str
from discord.ext import commands

from bot.bot import StoryboardBot
from bot.config import MAX_MODAL_SHOTS, GuildSettings
from bot.errors import StoryboardError
from bot.i18n import pick_locale, t
from bot.quota_view import check_before_form
from bot.store import Job
from bot.storyboard import (
    Shot,
    Storyboard,
    StoryboardSettings,
    check_settings,
    prompt_fields,
    shots_from_fields,
    shots_from_prompt,
)
from bot.submission import SubmitOrder
from bot.tree import ensure_allowed
from bot.videos_api import ReferenceImage
from cogs.attachments import fetch_reference_image
from cogs.audience import guild_locale
from cogs.cog_of import cog_of
from cogs.form_fix import FIX_PREFIX, FIX_TEMPLATE, own_echo, refuse
from cogs.job_posting import post_job_card
from cogs.replies import reply, report_error

log = logging.getLogger(__name__)

__all__ = ["MAX_MODAL_SHOTS", "QuickForm", "QuickStoryboardModal", "StoryboardCog"]

# The first field may hold a whole pasted storyboard.
FIELD_MAX_CHARS = 4000
PROMPT_MAX_CHARS = 4000
# Discord's limits on a modal.
MODAL_TITLE_MAX = 45
CUSTOM_ID_MAX = 100
# /storyboard options whose names Discord shows localised (the rest stay ASCII: `prompt`
# is named in the help text, and Chinese names would not make the others clearer).
LOCALISED_OPTIONS = ("seconds", "orientation", "model", "shots", "image")

QUICK_PREFIX = "sb:quick:"
# sb:quick:<nonce>:<seconds><l|p><shots><flags>:<=model or #index into the guild's models>
# flags: w watermark, p private, c character, i the form came with an image it does not hold;
# then s<id> when that image is in the image stash ("Use as reference image"), which outlives us.
_QUICK_ID = re.compile(
    r"^sb:quick:(?P<nonce>\d{1,20}):(?P<seconds>\d{1,3})(?P<orientation>[lp])"
    r"(?P<shots>[1-9])(?P<flags>[wpci]*)(?:s(?P<stash>\d{1,19}))?:(?P<model>[=#].+)$"
)


@dataclass(frozen=True)
class QuickForm:
    """What a quick-storyboard form's submit needs, carried in its custom_id so the form
    still works after its Modal object is gone (timed out, or the bot restarted)."""

    nonce: str
    settings: StoryboardSettings
    shots: int
    # The form was opened with an image (command option or stash) it does not carry itself.
    with_image: bool = False
    # The stashed image the form came with: reloaded from the store after a restart.
    stash_id: int | None = None

    def custom_id(self, models: tuple[str, ...]) -> str:
        s = self.settings
        flags = "".join(
            f
            for f, on in (
                ("w", s.watermark),
                ("p", s.private),
                ("c", s.character_create),
                ("i", self.with_image),
            )
            if on
        )
        if self.stash_id is not None:
            flags += f"s{self.stash_id}"
        head = f"{QUICK_PREFIX}{self.nonce}:{s.seconds}{s.orientation[0]}{self.shots}{flags}:"
        named = f"{head}={s.model}"
        if len(named) <= CUSTOM_ID_MAX or s.model not in models:
            return named[:CUSTOM_ID_MAX]
        return f"{head}#{models.index(s.model)}"

    @classmethod
    def parse(cls, custom_id: str, models: tuple[str, ...]) -> QuickForm | None:
        """The form a custom_id describes; None when it is not one (or its model is gone)."""
        match = _QUICK_ID.match(custom_id)
        if match is None:
            return None
        raw = match["model"]
        if raw.startswith("="):
            model = raw[1:]
        elif raw[1:].isdigit() and int(raw[1:]) < len(models):
            model = models[int(raw[1:])]
        else:
            return None
        flags = match["flags"]
        settings = StoryboardSettings(
            model=model,
            seconds=int(match["seconds"]),
            orientation="landscape" if match["orientation"] == "l" else "portrait",
            watermark="w" in flags,
            private="p" in flags,
            character_create="c" in flags,
        )
        shots = min(int(match["shots"]), MAX_MODAL_SHOTS)
        stash = int(match["stash"]) if match["stash"] else None
        return cls(
            nonce=match["nonce"],
            settings=settings,
            shots=shots,
            with_image="i" in flags,
            stash_id=stash,
        )


def form_title(settings: StoryboardSettings, locale: str) -> str:
    """ "15 s · landscape · sora-2", in the member's language, within Discord's 45 chars."""
    orientation = t(f"first.{settings.orientation}", locale)
    title = t(
        "first.title", locale, seconds=settings.seconds, orientation=orientation, model="{model}"
    )
    room = MODAL_TITLE_MAX - len(title.replace("{model}", ""))
    model = settings.model if len(settings.model) <= room else settings.model[: room - 1] + "…"
    return title.replace("{model}", model)[:MODAL_TITLE_MAX]


class QuickStoryboardModal(ui.Modal):
    """One paragraph field per shot (only the first required) and, unless the command
    carried an image, an image upload."""

    def __init__(
        self,
        cog: StoryboardCog,
        *,
        nonce: str,
        locale: str,
        settings: StoryboardSettings,
        shots: int,
        image: discord.Attachment | None,
        ready_image: ReferenceImage | None = None,
        models: tuple[str, ...] = (),
        restored: bool = False,
        image_lost: bool = False,
        stash_id: int | None = None,
        texts: Sequence[str] = (),
    ) -> None:
        self.form = QuickForm(
            nonce=nonce,
            settings=settings,
            shots=shots,
            with_image=image is not None or ready_image is not None or image_lost,
            stash_id=stash_id,
        )
        super().__init__(
            title=form_title(settings, locale), custom_id=self.form.custom_id(models), timeout=900
        )
        # An image already fetched and checked (from "Use as reference image").
        self.ready_image = ready_image
        self.cog = cog
        self.nonce = nonce
        self.locale = locale
        self.settings = settings
        self.option_image = image
        # Rebuilt from its custom_id (no live Modal object): answered by the listener.
        self.restored = restored
        # The form came with an image this process no longer has (a restart lost it).
        self.image_lost = image_lost
        self.scenes: list[ui.TextInput[QuickStoryboardModal]] = []
        for number in range(1, shots + 1):
            field: ui.TextInput[QuickStoryboardModal] = ui.TextInput(
                custom_id=f"shot_{number}",
                style=discord.TextStyle.paragraph,
                placeholder=t(f"first.placeholder_{number}", locale)[:100],
                max_length=FIELD_MAX_CHARS,
                required=number == 1,
                # Reopened by Fix: what the member typed before.
                default=texts[number - 1][:FIELD_MAX_CHARS] if number <= len(texts) else None,
            )
            self.scenes.append(field)
            self.add_item(
                ui.Label(
                    text=t("modal.shot_label", locale, number=number),
                    description=t(
                        "modal.shot_hint" if number == 1 else "first.shot_hint_more", locale
                    )[:100],
                    component=field,
                )
            )
        self.upload: ui.FileUpload[QuickStoryboardModal] | None = None
        if not self.form.with_image:
            self.upload = ui.FileUpload(custom_id="image", required=False, max_values=1)
            self.add_item(
                ui.Label(
                    text=t("modal.image_label", locale),
                    description=t("modal.image_hint", locale)[:100],
                    component=self.upload,
                )
            )

    def _dispatch_submit(self, interaction: Any, components: Any, resolved: Any) -> Any:
        # Runs inside discord.py's ViewStore.dispatch_modal, before the `interaction` event
        # is dispatched: the listener then knows this live form answers and stays silent.
        if not self.restored:
            self.cog.live_submits.add(interaction.id)
        return super()._dispatch_submit(interaction, components, resolved)

    def texts(self) -> list[str]:
        """The filled fields; an optional field left empty is dropped."""
        return [field.value for field in self.scenes if field.value]

    def echo(self) -> str:
        return "\n\n".join(self.texts())

    def fields(self) -> tuple[str, ...]:
        """Every field as typed, empty ones too: a Fix reopens the same form."""
        return tuple(field.value for field in self.scenes)

    def attachment(self) -> discord.Attachment | None:
        if self.upload is not None and self.upload.values:
            return self.upload.values[0]
        return self.option_image

    async def on_submit(self, interaction: discord.Interaction) -> None:
        ensure_allowed(self.cog.bot.config, interaction)
        with self.cog.bot.busy():
            await self.cog.submit_quick(interaction, self)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        await report_error(interaction, error, self.locale, echo=self.echo())


class FixButton(ui.DynamicItem[ui.Button[ui.View]], template=FIX_TEMPLATE):
    """A press on Fix (`sb:fix:<echo id>`), after a restart too: the echo is in the store."""

    def __init__(self, echo_id: int) -> None:
        super().__init__(ui.Button(label="Fix", custom_id=f"{FIX_PREFIX}{echo_id}"))
        self.echo_id = echo_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["echo_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await cog_of(interaction, StoryboardCog).reopen_form(interaction, self.echo_id)


class StoryboardCog(commands.Cog):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        # Modal submits a live QuickStoryboardModal took; the listener leaves these alone.
        self.live_submits: set[int] = set()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(FixButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(FixButton)

    def _guild_settings(self, interaction: discord.Interaction) -> GuildSettings:
        return self.bot.submitter.settings_for(interaction.guild_id)

    # The command

    @app_commands.command(
        name="storyboard",
        description=locale_str(
            "Make a video from a storyboard of shots", key="commands.storyboard.description"
        ),
    )
    @app_commands.describe(
        prompt=locale_str(
            "The whole storyboard on one line: shots split by | or [5s] marks (no form then)",
            key="commands.storyboard.options.prompt",
        ),
        seconds=locale_str(
            "Length of the whole video in seconds", key="commands.storyboard.options.seconds"
        ),
        orientation=locale_str(
            "Landscape or portrait", key="commands.storyboard.options.orientation"
        ),
        model=locale_str("The video model", key="commands.storyboard.options.model"),
        shots=locale_str(
            "How many shot fields the form shows (a pasted storyboard may hold more)",
            key="commands.storyboard.options.shots",
        ),
        image=locale_str(
            "A reference image for the video", key="commands.storyboard.options.image"
        ),
        watermark=locale_str(
            "Add the video service's watermark", key="commands.storyboard.options.watermark"
        ),
        private=locale_str(
            "Keep the video unpublished (it can't be remixed then)",
            key="commands.storyboard.options.private",
        ),
        character=locale_str(
            "Also make a character from the finished video (it must show no real person)",
            key="commands.storyboard.options.character",
        ),
    )
    # Option names Discord shows in the member's language (时长, 方向...); the name in the
    # payload stays the ASCII one. Keys: commands.storyboard.names.<option>.
    @app_commands.rename(
        **{
            option: locale_str(option, key=f"commands.storyboard.names.{option}")
            for option in LOCALISED_OPTIONS
        }
    )
    # Named choices (the values stay those of the Literal below) so their names can be translated.
    @app_commands.choices(
        orientation=[
            app_commands.Choice(
                name=locale_str(
                    "Landscape", key="commands.storyboard.choices.orientation.landscape"
                ),
                value="landscape",
            ),
            app_commands.Choice(
                name=locale_str("Portrait", key="commands.storyboard.choices.orientation.portrait"),
                value="portrait",
            ),
        ]
    )
    # Not guild-only: in direct messages the access check allows it only with a DM key.
    async def storyboard(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS] | None = None,
        seconds: app_commands.Range[int, 1, 60] | None = None,
        orientation: Literal["landscape", "portrait"] | None = None,
        model: app_commands.Range[str, 1, 100] | None = None,
        shots: app_commands.Range[int, 1, MAX_MODAL_SHOTS] | None = None,
        image: discord.Attachment | None = None,
        watermark: bool | None = None,
        private: bool | None = None,
        character: bool | None = None,
    ) -> None:
        locale = pick_locale(str(interaction.locale))
        guild = self._guild_settings(interaction)
        if not guild.can_submit:
            raise StoryboardError("guild.no_key")
        d = guild.defaults
        settings = StoryboardSettings(
            model=model or d.model,
            seconds=seconds or d.seconds,
            orientation=orientation or d.orientation,
            watermark=d.watermark if watermark is None else watermark,
            private=d.private if private is None else private,
            character_create=bool(character),
        )
        # Refuse a bad option now, before the member types a whole storyboard.
        check_settings(settings, guild.profile, models=guild.models, max_seconds=guild.max_seconds)
        if image is not None and image.size > guild.image_max_bytes:
            raise StoryboardError(
                "command.image_option_too_large",
                size_mb=round(image.size / 1048576, 1),
                max_mb=round(guild.image_max_bytes / 1048576, 1),
            )
        # Over a quota or in the cooldown: say so (and until when) before the form opens.
        await check_before_form(
            self.bot, interaction.guild_id, interaction.user.id, seconds=settings.seconds
        )
        if prompt is not None:
            # A whole storyboard in the option: no form, straight to the modal's submit path.
            with self.bot.busy():
                await self.submit_storyboard(
                    interaction,
                    locale=locale,
                    request_key=f"quick:{interaction.id}",
                    settings=settings,
                    parse=lambda: shots_from_prompt(prompt, author_id=interaction.user.id),
                    attachment=image,
                    echo=prompt,
                    fields=prompt_fields(prompt, MAX_MODAL_SHOTS),
                )
            return
        modal = QuickStoryboardModal(
            self,
            nonce=str(interaction.id),
            locale=locale,
            settings=settings,
            shots=shots or d.default_shots,
            image=image,
            models=guild.models,
        )
        await interaction.response.send_modal(modal)

    @storyboard.autocomplete("model")
    async def _model_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        models = self._guild_settings(interaction).models
        return [
            app_commands.Choice(name=m, value=m) for m in models if current.lower() in m.lower()
        ][:25]

    @storyboard.autocomplete("seconds")
    async def _seconds_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        allowed = self._guild_settings(interaction).allowed_seconds
        locale = pick_locale(str(interaction.locale))
        return [
            app_commands.Choice(name=t("card.seconds", locale, seconds=s), value=s) for s in allowed
        ]

    # The modal's submit

    async def submit_quick(
        self, interaction: discord.Interaction, modal: QuickStoryboardModal
    ) -> None:
        if modal.image_lost:
            await interaction.response.defer(ephemeral=True, thinking=True)
            made = await self.bot.store.job_by_request_key(f"quick:{modal.nonce}")
            if made is not None and made.state != "submit_failed":
                # The same form already made its job (a second submit after a restart):
                # say so, with no Fix that would pay again.
                error = StoryboardError("storyboard.already_submitted", job=made.id)
                await report_error(interaction, error, modal.locale)
                return
            await refuse(
                self.bot,
                interaction,
                StoryboardError("first.image_lost"),
                modal.locale,
                echo=modal.echo(),
                settings=modal.settings,
                fields=modal.fields(),
            )
            return
        await self.submit_storyboard(
            interaction,
            locale=modal.locale,
            request_key=f"quick:{modal.nonce}",
            settings=modal.settings,
            parse=lambda: shots_from_fields(modal.texts(), author_id=interaction.user.id),
            attachment=modal.attachment(),
            ready_image=modal.ready_image,
            echo=modal.echo(),
            fields=modal.fields(),
            stash_id=modal.form.stash_id,
        )

    async def submit_storyboard(
        self,
        interaction: discord.Interaction,
        *,
        locale: str,
        request_key: str,
        settings: StoryboardSettings,
        parse: Callable[[], list[Shot]],
        attachment: discord.Attachment | None,
        echo: str,
        fields: Sequence[str],
        ready_image: ReferenceImage | None = None,
        stash_id: int | None = None,
    ) -> None:
        """The one submit path of a quick storyboard (form or `prompt` option): acknowledge
        first, validate, submit once per `request_key`, post the card. A refusal offers
        Fix: the form again, holding `fields`."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        image = ready_image
        try:
            guild = self._guild_settings(interaction)
            shots = parse()
            # An image is held whole from download to the provider's answer: one slot
            # for all of that bounds memory (a slot per stage let 50 images pile up).
            holding = attachment is not None or ready_image is not None
            async with self.bot.image_slots if holding else contextlib.nullcontext():
                image = (
                    await fetch_reference_image(
                        attachment, guild, size=guild.profile.size_for(settings.orientation)
                    )
                    if attachment
                    else ready_image
                )
                order = SubmitOrder(
                    request_key=request_key,
                    guild_id=interaction.guild_id,
                    channel_id=interaction.channel_id or 0,
                    user_id=interaction.user.id,
                    locale=locale,
                    guild_locale=guild_locale(interaction),
                    storyboard=Storyboard(shots=tuple(shots), settings=settings),
                    image=image,
                    filesize_limit=interaction.filesize_limit,
                )
                job = await self.bot.submitter.submit(order)
            # Refused by the provider: nothing was made or paid, so a new form may submit.
            refusal: StoryboardError | Job | None = job if job.state == "submit_failed" else None
        except StoryboardError as error:
            refusal = error
        if refusal is not None:
            await refuse(
                self.bot,
                interaction,
                refusal,
                locale,
                echo=echo,
                settings=settings,
                fields=fields,
                image=image,
                attachment=attachment,
                stash_id=stash_id,
            )
            return
        await post_job_card(self.bot, interaction, job, locale)

    # Fix: the refused form again, filled in

    async def reopen_form(self, interaction: discord.Interaction, echo_id: int) -> None:
        """The Fix button: the member's own refused form, with a fresh request key (the
        refusal made or paid nothing), checked against access and limits like /storyboard."""
        locale = pick_locale(str(interaction.locale))
        try:
            ensure_allowed(self.bot.config, interaction)
            echo = await own_echo(self.bot, interaction, echo_id)
            if echo is None:
                await reply(interaction, t("fix.not_found", locale), locale=locale)
                return
            await check_before_form(
                self.bot, interaction.guild_id, interaction.user.id, seconds=echo.settings.seconds
            )
            ready_image = None
            if echo.stash_id is not None:
                ready_image = await self.bot.store.drafts.stashed_image(
                    echo.stash_id, interaction.user.id
                )
            modal = QuickStoryboardModal(
                self,
                nonce=str(interaction.id),
                locale=locale,
                settings=echo.settings,
                shots=max(1, min(len(echo.fields), MAX_MODAL_SHOTS)),
                image=None,
                ready_image=ready_image,
                models=self._guild_settings(interaction).models,
                stash_id=echo.stash_id if ready_image is not None else None,
                texts=echo.fields,
            )
            await interaction.response.send_modal(modal)
        except StoryboardError as error:
            await report_error(interaction, error, locale)

    # A form whose Modal object is gone (timed out in memory, or the bot restarted)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = cast("dict[str, Any]", interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if not custom_id.startswith(QUICK_PREFIX):
            return
        if interaction.id in self.live_submits:
            self.live_submits.discard(interaction.id)  # the live form answers this one
            return
        locale = pick_locale(str(interaction.locale))
        form = QuickForm.parse(custom_id, self._guild_settings(interaction).models)
        if form is None:
            log.info("quick form %s can't be restored: its settings are not in its id", custom_id)
            await report_error(interaction, StoryboardError("first.form_stale"), locale)
            return
        log.info("quick form %s submitted without a live modal: restored from its id", custom_id)
        ready_image = None
        if form.stash_id is not None:
            ready_image = await self.bot.store.drafts.stashed_image(
                form.stash_id, interaction.user.id
            )
        modal = QuickStoryboardModal(
            self,
            nonce=form.nonce,
            locale=locale,
            settings=form.settings,
            shots=form.shots,
            image=None,
            ready_image=ready_image,
            models=self._guild_settings(interaction).models,
            restored=True,
            image_lost=form.with_image and ready_image is None,
            stash_id=form.stash_id,
        )
        components = data.get("components", [])
        resolved = data.get("resolved", {})
        await modal._dispatch_submit(interaction, components, resolved)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(StoryboardCog(bot))
