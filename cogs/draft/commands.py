"""`/draft new`, the "Use as reference image" context menu, and archiving idle drafts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any, Self

import discord
from discord import app_commands, ui
from discord.app_commands import locale_str
from discord.ext import commands

from bot.bot import StoryboardBot
from bot.drafts import Draft, clean_title, may_manage
from bot.errors import StoryboardError
from bot.i18n import pick_locale, t
from bot.quota_view import check_before_form
from bot.storyboard import StoryboardSettings
from bot.tree import ensure_allowed
from cogs.attachments import fetch_reference_image, looks_like_image
from cogs.audience import server_locale
from cogs.draft.actions import DraftActions, actor_of, bot_of
from cogs.draft.buttons import DYNAMIC_ITEMS
from cogs.draft.threads import open_draft_thread
from cogs.replies import NO_MENTIONS, reply
from cogs.visibility import can_see_draft

log = logging.getLogger(__name__)
ARCHIVE_EVERY_SECONDS = 3600.0


class ImageTargetPicker(
    ui.DynamicItem[ui.Select[ui.View]], template=r"sbdimg:(?P<stash>[0-9]{1,20})"
):
    """Where a stashed image goes: one of the member's drafts, or a new quick storyboard."""

    def __init__(self, stash_id: int, options: list[discord.SelectOption] | None = None) -> None:
        super().__init__(
            ui.Select(
                custom_id=f"sbdimg:{stash_id}", options=options or [discord.SelectOption(label="-")]
            )
        )
        self.stash_id = stash_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["stash"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await use_stashed_image(interaction, self.stash_id, self.item.values[0])


async def use_stashed_image(interaction: discord.Interaction, stash_id: int, target: str) -> None:
    bot = bot_of(interaction)
    locale = pick_locale(str(interaction.locale))
    actions = DraftActions(bot)
    try:
        ensure_allowed(bot.config, interaction)
        image = await bot.store.drafts.stashed_image(stash_id, interaction.user.id)
        if image is None:
            raise StoryboardError("draft.image_gone")
        if target == "quick":
            from cogs.storyboard import QuickStoryboardModal, StoryboardCog

            cog = bot.get_cog("StoryboardCog")
            if not isinstance(cog, StoryboardCog):
                raise RuntimeError("the storyboard cog is not loaded")
            guild = bot.config.guild(interaction.guild_id or 0)
            if not guild.can_submit:
                raise StoryboardError("guild.no_key")
            d = guild.defaults
            settings = StoryboardSettings(
                model=d.model,
                seconds=d.seconds,
                orientation=d.orientation,
                watermark=d.watermark,
                private=d.private,
            )
            # As for /storyboard: over a quota or in the cooldown, no form.
            await check_before_form(
                bot, interaction.guild_id, interaction.user.id, seconds=settings.seconds
            )
            modal = QuickStoryboardModal(
                cog,
                nonce=str(interaction.id),
                locale=locale,
                settings=settings,
                shots=guild.defaults.default_shots,
                models=guild.models,
                image=None,
                ready_image=image,
                stash_id=stash_id,
            )
            await interaction.response.send_modal(modal)
            return
        if not (target.isascii() and target.isdigit()):
            raise StoryboardError("draft.not_found", draft=target[:20])
        draft = await actions._draft(interaction, int(target))
        if not may_manage(draft, actor_of(interaction), bot.config.guild(draft.guild_id)):
            raise StoryboardError("draft.owner_only", owner=f"<@{draft.owner_id}>")
        draft = await bot.store.drafts.set_image(draft.id, image)
        await interaction.response.edit_message(
            content=t("draft.image_set", locale, name=image.filename), view=None
        )
        await actions.refresh(draft)
    except StoryboardError as error:
        await actions.report(interaction, error, locale)


class DraftCog(commands.Cog):
    draft = app_commands.Group(
        name="draft",
        description=locale_str(
            "Build a storyboard together in a thread", key="commands.draft.description"
        ),
        guild_only=True,
    )

    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(
            name=locale_str("Use as reference image", key="commands.use_as_reference_image.name"),
            callback=self.use_as_reference,
        )
        self._archiver: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS, ImageTargetPicker)
        self.bot.tree.add_command(self.menu)
        # One archiver for the fleet: the process with shard 0 (every process shares the store).
        if self.bot.holds_first_shard:
            self._archiver = asyncio.create_task(
                self._archive_loop(), name="storyboard-draft-archiver"
            )

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS, ImageTargetPicker)
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        if self._archiver is not None:
            self._archiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._archiver

    async def archive_now(self) -> list[Draft]:
        archived = await DraftActions(self.bot).service.archive_stale()
        actions = DraftActions(self.bot)
        for draft in archived:
            await actions.refresh(draft)
        return archived

    async def _archive_loop(self) -> None:
        await self.bot.wait_until_ready()
        while True:
            try:
                await self.archive_now()
            except Exception:
                log.exception("archiving idle drafts failed")
            await asyncio.sleep(ARCHIVE_EVERY_SECONDS)

    @draft.command(
        name="new",
        description=locale_str(
            "Start a draft storyboard in a new thread", key="commands.draft.new.description"
        ),
    )
    @app_commands.describe(
        title=locale_str("What the video is about", key="commands.draft.new.options.title")
    )
    async def new(
        self, interaction: discord.Interaction, title: app_commands.Range[str, 1, 90]
    ) -> None:
        locale = pick_locale(str(interaction.locale))
        guild = self.bot.config.guild(interaction.guild_id or 0)
        if not guild.can_submit:
            raise StoryboardError("guild.no_key")
        await interaction.response.defer(ephemeral=True, thinking=True)
        d = guild.defaults
        draft = await self.bot.store.drafts.create(
            guild_id=interaction.guild_id or 0,
            channel_id=interaction.channel_id or 0,
            owner_id=interaction.user.id,
            title=clean_title(title),
            # The panel is for everyone in the thread: the server's language.
            locale=server_locale(self.bot, interaction),
            settings=StoryboardSettings(
                model=d.model,
                seconds=d.seconds,
                orientation=d.orientation,
                watermark=d.watermark,
                private=d.private,
            ),
        )
        try:
            where = await open_draft_thread(self.bot, draft, interaction.channel)
        except discord.HTTPException:
            log.warning("draft=%s: could not open its thread", draft.id, exc_info=True)
            await self.bot.store.drafts.close(draft.id, "discarded")
            raise StoryboardError("draft.no_thread_permission") from None
        await reply(interaction, t("draft.started", locale, where=where), locale=locale)

    async def use_as_reference(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        locale = pick_locale(str(interaction.locale))
        guild = self.bot.config.guild(interaction.guild_id or 0)
        attachment = next((a for a in message.attachments if looks_like_image(a)), None)
        if attachment is None:
            raise StoryboardError("draft.message_has_no_image")
        await interaction.response.defer(ephemeral=True, thinking=True)
        image = await fetch_reference_image(attachment, guild, self.bot.image_slots)
        stash_id = await self.bot.store.drafts.stash_image(interaction.user.id, image)
        actor = actor_of(interaction)
        drafts = [
            d
            for d in await self.bot.store.drafts.open_for_member(
                guild_id=interaction.guild_id or 0, user_id=interaction.user.id
            )
            if may_manage(d, actor, guild) and can_see_draft(interaction, d)
        ]
        options = [discord.SelectOption(label=t("draft.target_quick", locale)[:100], value="quick")]
        options += [
            discord.SelectOption(label=f"#{d.id} {d.title}"[:100], value=str(d.id))
            for d in drafts[:24]
        ]
        view = ui.View(timeout=600)
        view.add_item(ImageTargetPicker(stash_id, options))
        await interaction.followup.send(
            t("draft.pick_target", locale, name=image.filename),
            view=view,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
