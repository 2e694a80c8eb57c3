"""`/storyboard`: the quick path from a few scenes to a video in a thread."""

from __future__ import annotations

import contextlib
import logging
from typing import Literal

import discord
from discord import app_commands, ui
from discord.app_commands import locale_str
from discord.ext import commands

from bot.bot import StoryboardBot
from bot.config import GuildSettings
from bot.errors import StoryboardError
from bot.i18n import pick_locale, t
from bot.quota_view import check_before_form
from bot.storyboard import Storyboard, StoryboardSettings, check_settings, shots_from_fields
from bot.submission import SubmitOrder
from bot.tree import ensure_allowed
from bot.videos_api import ReferenceImage
from cogs.attachments import fetch_reference_image
from cogs.job_posting import post_job_card
from cogs.replies import reply_not_submitted, report_error

log = logging.getLogger(__name__)

MAX_MODAL_SHOTS = 4
# The first field may hold a whole pasted storyboard.
FIELD_MAX_CHARS = 4000


class QuickStoryboardModal(ui.Modal):
    """One paragraph field per shot and, unless the command carried one, an image upload."""

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
    ) -> None:
        super().__init__(title=t("modal.title", locale), custom_id=f"sb:quick:{nonce}", timeout=900)
        # An image already fetched and checked (from "Use as reference image").
        self.ready_image = ready_image
        self.cog = cog
        self.nonce = nonce
        self.locale = locale
        self.settings = settings
        self.option_image = image
        self.scenes: list[ui.TextInput[QuickStoryboardModal]] = []
        for number in range(1, shots + 1):
            field: ui.TextInput[QuickStoryboardModal] = ui.TextInput(
                custom_id=f"shot_{number}",
                style=discord.TextStyle.paragraph,
                placeholder=t("modal.shot_placeholder", locale)[:100],
                max_length=FIELD_MAX_CHARS,
                required=True,
            )
            self.scenes.append(field)
            self.add_item(
                ui.Label(
                    text=t("modal.shot_label", locale, number=number),
                    description=t("modal.shot_hint", locale)[:100],
                    component=field,
                )
            )
        self.upload: ui.FileUpload[QuickStoryboardModal] | None = None
        if image is None and ready_image is None:
            self.upload = ui.FileUpload(custom_id="image", required=False, max_values=1)
            self.add_item(
                ui.Label(
                    text=t("modal.image_label", locale),
                    description=t("modal.image_hint", locale)[:100],
                    component=self.upload,
                )
            )

    def texts(self) -> list[str]:
        return [field.value for field in self.scenes]

    def echo(self) -> str:
        return "\n\n".join(self.texts())

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


class StoryboardCog(commands.Cog):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

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
            "Add the provider's watermark", key="commands.storyboard.options.watermark"
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
        seconds: app_commands.Range[int, 1, 60] | None = None,
        orientation: Literal["landscape", "portrait"] | None = None,
        model: app_commands.Range[str, 1, 100] | None = None,
        shots: app_commands.Range[int, 1, MAX_MODAL_SHOTS] = 3,
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
        modal = QuickStoryboardModal(
            self,
            nonce=str(interaction.id),
            locale=locale,
            settings=settings,
            shots=shots,
            image=image,
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
        locale = modal.locale
        await interaction.response.defer(ephemeral=True, thinking=True)
        echo = modal.echo()
        try:
            guild = self._guild_settings(interaction)
            shots = shots_from_fields(modal.texts(), author_id=interaction.user.id)
            attachment = modal.attachment()
            # An image is held whole from download to the provider's answer: one slot
            # for all of that bounds memory (a slot per stage let 50 images pile up).
            holding = attachment is not None or modal.ready_image is not None
            async with self.bot.image_slots if holding else contextlib.nullcontext():
                image = (
                    await fetch_reference_image(attachment, guild.image_max_bytes)
                    if attachment
                    else modal.ready_image
                )
                order = SubmitOrder(
                    request_key=f"quick:{modal.nonce}",
                    guild_id=interaction.guild_id,
                    channel_id=interaction.channel_id or 0,
                    user_id=interaction.user.id,
                    locale=locale,
                    storyboard=Storyboard(shots=tuple(shots), settings=modal.settings),
                    image=image,
                    filesize_limit=interaction.filesize_limit,
                )
                job = await self.bot.submitter.submit(order)
        except StoryboardError as error:
            await report_error(interaction, error, locale, echo=echo)
            return
        if job.state == "submit_failed":
            await reply_not_submitted(interaction, job, locale, echo=echo)
            return
        await post_job_card(self.bot, interaction, job, locale)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(StoryboardCog(bot))
