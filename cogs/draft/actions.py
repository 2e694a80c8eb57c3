"""What each panel button, picker and modal does: check, change the store, refresh the panel."""

from __future__ import annotations

import logging

import discord
from discord import ui

from bot.bot import StoryboardBot
from bot.draft_service import DraftService
from bot.drafts import (
    Actor,
    Draft,
    clean_title,
    require_manager,
    require_open,
    require_shot_editor,
)
from bot.errors import StoryboardError
from bot.i18n import pick_locale, t
from bot.store.drafts import StaleEdit
from bot.storyboard import check_settings, validate_storyboard
from bot.tree import ensure_allowed
from cogs.attachments import fetch_reference_image
from cogs.audience import guild_locale, server_locale
from cogs.draft.animatic_preview import post_preview
from cogs.draft.modals import ImageModal, SettingsModal, ShotModal
from cogs.draft.panel import build_panel, panel_view, preview_text, shot_options, shot_picker
from cogs.draft.threads import open_draft_thread
from cogs.job_posting import post_job_card
from cogs.replies import reply, reply_not_submitted, report_error
from cogs.visibility import visible_draft

log = logging.getLogger(__name__)


def bot_of(interaction: discord.Interaction) -> StoryboardBot:
    client = interaction.client
    if not isinstance(client, StoryboardBot):
        raise RuntimeError("draft panels need the Storyboard bot")
    return client


def actor_of(interaction: discord.Interaction) -> Actor:
    roles = getattr(interaction.user, "roles", [])
    return Actor(
        user_id=interaction.user.id,
        role_ids=frozenset(r.id for r in roles),
        manage_messages=interaction.permissions.manage_messages,
    )


async def on_panel_button(interaction: discord.Interaction, action: str, draft_id: int) -> None:
    await DraftActions(bot_of(interaction)).button(interaction, action, draft_id)


async def on_shot_picked(
    interaction: discord.Interaction, action: str, draft_id: int, shot_id: int, version: int
) -> None:
    await DraftActions(bot_of(interaction)).picked(interaction, action, draft_id, shot_id, version)


class DraftActions:
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        self.service = DraftService(bot.store, bot.submitter, bot.current_config)

    async def report(
        self,
        interaction: discord.Interaction,
        error: BaseException,
        locale: str,
        echo: str | None = None,
    ) -> None:
        await report_error(interaction, error, locale, echo=echo)

    async def _draft(self, interaction: discord.Interaction, draft_id: int) -> Draft:
        """The draft if the member can see it (its guild, a channel they can view); a draft
        they can't see is "not found", like a missing one."""
        draft = await visible_draft(interaction, self.bot.store, draft_id)
        if draft is None:
            raise StoryboardError("draft.not_found", draft=draft_id)
        return draft

    async def refresh(self, draft: Draft) -> None:
        """Edit the panel in place; a failed edit is logged, the store already holds the change."""
        if draft.thread_id is None or draft.panel_message_id is None:
            return
        channel = self.bot.get_partial_messageable(draft.thread_id, guild_id=draft.guild_id)
        try:
            await channel.get_partial_message(draft.panel_message_id).edit(
                embed=build_panel(draft), view=panel_view(draft)
            )
        except discord.HTTPException as exc:
            log.warning("draft=%s: panel edit failed (%s)", draft.id, exc.status)

    @staticmethod
    def _may_post(interaction: discord.Interaction) -> None:
        perms = interaction.permissions
        if not (perms.send_messages_in_threads or perms.send_messages):
            raise StoryboardError("draft.cannot_post")

    # Buttons

    async def button(self, interaction: discord.Interaction, action: str, draft_id: int) -> None:
        locale = pick_locale(str(interaction.locale))
        try:
            ensure_allowed(self.bot.config, interaction)
            draft = await self._draft(interaction, draft_id)
            guild = self.bot.config.guild(draft.guild_id)
            actor = actor_of(interaction)
            if action == "add":
                require_open(draft)
                self._may_post(interaction)
                await interaction.response.send_modal(ShotModal(self, draft, locale))
            elif action in ("edit", "remove", "up", "down"):
                require_open(draft)
                self._may_post(interaction)
                if not draft.shots:
                    raise StoryboardError("draft.no_shots_to_pick")
                view = ui.View(timeout=300)
                view.add_item(shot_picker(action, draft.id, shot_options(draft, locale)))
                await interaction.response.send_message(
                    t(f"draft.pick_{action}", locale), view=view, ephemeral=True
                )
            elif action == "settings":
                require_open(draft)
                require_manager(draft, actor, guild)
                await interaction.response.send_modal(SettingsModal(self, draft, locale, guild))
            elif action == "image":
                require_open(draft)
                require_manager(draft, actor, guild)
                await interaction.response.send_modal(ImageModal(self, draft, locale))
            elif action == "preview":
                await reply(interaction, self.preview(draft, locale), locale=locale)
            elif action == "animatic":
                self._may_post(interaction)
                await post_preview(self.bot, interaction, draft, locale)
            elif action == "submit":
                await self.submit(interaction, draft, actor, locale)
            elif action == "discard":
                require_open(draft)
                require_manager(draft, actor, guild)
                if not await self.bot.store.drafts.close(draft.id, "discarded"):
                    raise StoryboardError("draft.is_discarded")
                # Answer first: a rate-limited panel edit must not run out Discord's 3 s.
                await reply(
                    interaction, t("draft.discarded", locale, draft=draft.id), locale=locale
                )
                await self.refresh(await self.bot.store.drafts.get(draft.id))
            elif action == "duplicate":
                await self.duplicate(interaction, draft, actor, locale)
        except Exception as error:  # every press is answered, even on a bug
            await self.report(interaction, error, locale)

    def preview(self, draft: Draft, locale: str) -> str:
        guild = self.bot.config.guild(draft.guild_id)
        try:
            valid = validate_storyboard(
                draft.storyboard(),
                guild.profile,
                models=guild.models,
                max_seconds=guild.max_seconds,
            )
        except StoryboardError as problem:
            return t(
                "draft.preview_problem", locale, reason=t(problem.key, locale, **problem.fields)
            )
        return preview_text(valid, draft.image_filename, locale)

    async def submit(
        self, interaction: discord.Interaction, draft: Draft, actor: Actor, locale: str
    ) -> None:
        # Refusals first, while we can still answer at once.
        require_open(draft)
        require_manager(draft, actor, self.bot.config.guild(draft.guild_id))
        await interaction.response.defer(ephemeral=True, thinking=True)
        with self.bot.busy():
            draft, job = await self.service.submit(
                draft.id,
                actor,
                request_key=f"draft:{draft.id}:v{draft.version}",
                channel_id=draft.thread_id or draft.channel_id,
                filesize_limit=interaction.filesize_limit,
                locale=locale,
                guild_locale=guild_locale(interaction),
            )
            await self.refresh(draft)
            if job.state == "submit_failed":
                await reply_not_submitted(interaction, job, locale)
                return
            into = (
                self.bot.get_partial_messageable(draft.thread_id, guild_id=draft.guild_id)
                if draft.thread_id
                else None
            )
            await post_job_card(self.bot, interaction, job, locale, into=into)

    async def duplicate(
        self, interaction: discord.Interaction, draft: Draft, actor: Actor, locale: str
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        title = clean_title(t("draft.copy_title", locale, title=draft.title))
        # The copy's panel is public: in the server's language, like the original's.
        copy = await self.service.duplicate(
            draft.id,
            actor,
            channel_id=draft.channel_id,
            title=title,
            locale=server_locale(self.bot, interaction),
        )
        parent = self.bot.get_channel(draft.channel_id)
        where = await open_draft_thread(self.bot, copy, parent)
        await reply(interaction, t("draft.started", locale, where=where), locale=locale)

    # The shot picker

    async def picked(
        self,
        interaction: discord.Interaction,
        action: str,
        draft_id: int,
        shot_id: int,
        version: int,
    ) -> None:
        locale = pick_locale(str(interaction.locale))
        try:
            ensure_allowed(self.bot.config, interaction)
            draft = await self._draft(interaction, draft_id)
            guild = self.bot.config.guild(draft.guild_id)
            shot = draft.shot(shot_id)
            require_shot_editor(draft, shot, actor_of(interaction), guild)
            number = draft.number_of(shot_id)
            drafts = self.bot.store.drafts
            if action == "edit":
                if shot.version != version:
                    raise StaleEdit(draft, shot)
                await interaction.response.send_modal(
                    ShotModal(self, draft, locale, shot, seen_version=version)
                )
                return
            if action == "remove":
                draft = await drafts.remove_shot(draft.id, shot_id, seen_version=version)
                text = t("draft.removed", locale, number=number)
            else:
                draft = await drafts.move_shot(draft.id, shot_id, -1 if action == "up" else 1)
                text = t("draft.moved", locale, number=number, now=draft.number_of(shot_id))
            await interaction.response.edit_message(content=text, view=None)
            await self.refresh(draft)
        except Exception as error:  # every press is answered, even on a bug
            await self.report(interaction, error, locale)

    # Modals

    async def shot_submitted(self, interaction: discord.Interaction, modal: ShotModal) -> None:
        locale = modal.locale
        try:
            ensure_allowed(self.bot.config, interaction)
            scene, duration = modal.read()
            drafts = self.bot.store.drafts
            draft = await self._draft(interaction, modal.draft.id)
            if modal.shot is None:
                draft = await drafts.add_shot(
                    draft.id, scene=scene, duration=duration, author_id=interaction.user.id
                )
                text = t("draft.added", locale, number=len(draft.shots))
            else:
                require_shot_editor(
                    draft,
                    draft.shot(modal.shot.id),
                    actor_of(interaction),
                    self.bot.config.guild(draft.guild_id),
                )
                draft = await drafts.edit_shot(
                    draft.id,
                    modal.shot.id,
                    seen_version=modal.seen_version or 0,
                    scene=scene,
                    duration=duration,
                )
                text = t("draft.edited", locale, number=draft.number_of(modal.shot.id))
            await reply(interaction, text, locale=locale)
            await self.refresh(draft)
        except Exception as error:  # every press is answered, even on a bug
            await self.report(interaction, error, locale, echo=modal.scene.value)

    async def settings_submitted(
        self, interaction: discord.Interaction, modal: SettingsModal
    ) -> None:
        locale = modal.locale
        try:
            ensure_allowed(self.bot.config, interaction)
            draft = await self._draft(interaction, modal.draft.id)
            guild = self.bot.config.guild(draft.guild_id)
            require_manager(draft, actor_of(interaction), guild)
            settings = modal.read()
            check_settings(
                settings, guild.profile, models=guild.models, max_seconds=guild.max_seconds
            )
            draft = await self.bot.store.drafts.update_settings(
                draft.id, seen_version=modal.draft.version, settings=settings
            )
            text = t("draft.settings_saved", locale)
            problem = draft.timing_problem()
            if problem is not None:
                text += "\n" + t(
                    "draft.total_problem", locale, reason=t(problem.key, locale, **problem.fields)
                )
            await reply(interaction, text, locale=locale)
            await self.refresh(draft)
        except Exception as error:  # every press is answered, even on a bug
            await self.report(interaction, error, locale)

    async def image_submitted(self, interaction: discord.Interaction, modal: ImageModal) -> None:
        locale = modal.locale
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            ensure_allowed(self.bot.config, interaction)
            draft = await self._draft(interaction, modal.draft.id)
            guild = self.bot.config.guild(draft.guild_id)
            require_manager(draft, actor_of(interaction), guild)
            image = await fetch_reference_image(modal.upload.values[0], guild, self.bot.image_slots)
            draft = await self.bot.store.drafts.set_image(draft.id, image)
            await self.refresh(draft)
            await reply(
                interaction, t("draft.image_set", locale, name=image.filename), locale=locale
            )
        except Exception as error:  # every press is answered, even on a bug
            await self.report(interaction, error, locale)
