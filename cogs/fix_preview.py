"""Watch timing: a quick storyboard refused for its timing, played to the member as written.

Beside Fix under a refusal such as "the shots add up to 13 s but the video is 10 s"
(`bot.timing_preview.TIMING_REFUSALS`). The press renders the refused shots as the member
timed them (`bot.timing_preview.written_reel`), over their image when one was kept, and
sends it to them alone: the refusal was theirs alone. Free, but not free of CPU: one render
a minute per member. The limit is held in this process's memory, which is enough: a
member's presses in a server reach the process of that server's shard (in DMs, shard 0),
and a restart costing one more render is harmless. The echo is found as Fix finds it
(`own_echo`): only its author, in the same server, in a channel they still see.
"""

from __future__ import annotations

import logging
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import discord
from discord import ui
from discord.ext import commands

from bot.animatic import options_for
from bot.bot import StoryboardBot
from bot.errors import StoryboardError
from bot.i18n import pick_locale, t
from bot.storyboard import check_scenes, shots_from_fields
from bot.timing_preview import written_reel, written_seconds
from bot.transcoder import TranscoderBusy
from bot.tree import ensure_allowed
from bot.video_fit import Stopped
from cogs.cog_of import cog_of
from cogs.form_fix import TIMING_PREFIX, TIMING_TEMPLATE, own_echo
from cogs.replies import NO_MENTIONS, reply, report_error

log = logging.getLogger(__name__)

# One render a minute per member (an animatic takes under a second of a core).
EVERY_SECONDS = 60.0


class WatchTimingButton(ui.DynamicItem[ui.Button[ui.View]], template=TIMING_TEMPLATE):
    """A press on Watch timing (`sb:fixtime:<echo id>`), after a restart too."""

    def __init__(self, echo_id: int) -> None:
        super().__init__(ui.Button(label="Watch timing", custom_id=f"{TIMING_PREFIX}{echo_id}"))
        self.echo_id = echo_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["echo_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = cog_of(interaction, FixPreviewCog)
        with cog.bot.busy():
            await cog.watch(interaction, self.echo_id)


class FixPreviewCog(commands.Cog):
    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot
        # Member id -> when their last render started (the bot's Discord clock).
        self._started: dict[int, float] = {}

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(WatchTimingButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(WatchTimingButton)

    def _claim(self, user_id: int) -> float | None:
        """Start a render for this member now; when the next may start if too soon."""
        now = self.bot.discord_clock()
        # Forget members whose minute is over, so the map holds only the last minute's.
        self._started = {u: at for u, at in self._started.items() if now - at < EVERY_SECONDS}
        last = self._started.get(user_id)
        if last is not None:
            return last + EVERY_SECONDS
        self._started[user_id] = now
        return None

    async def watch(self, interaction: discord.Interaction, echo_id: int) -> None:
        locale = pick_locale(str(interaction.locale))
        user_id = interaction.user.id
        claimed = False
        try:
            ensure_allowed(self.bot.config, interaction)
            echo = await own_echo(self.bot, interaction, echo_id)
            if echo is None:
                await reply(interaction, t("fix.not_found", locale), locale=locale)
                return
            try:
                shots = shots_from_fields(echo.fields, author_id=user_id)
                check_scenes(shots)
            except StoryboardError as problem:
                reason = t(problem.key, locale, **problem.fields)
                raise StoryboardError("fix.preview_problem", reason=reason) from problem
            until = self._claim(user_id)
            if until is not None:
                when = discord.utils.format_dt(datetime.fromtimestamp(until, tz=UTC), "R")
                await reply(interaction, t("fix.preview_wait", locale, when=when), locale=locale)
                return
            claimed = True
            await interaction.response.defer(ephemeral=True, thinking=True)
            guild = self.bot.config.settings_for(echo.guild_id)
            reel = written_reel(shots, echo.settings, guild.profile, locale)
            image = None
            if echo.stash_id is not None:
                image = await self.bot.store.drafts.stashed_image(echo.stash_id, user_id)
            with tempfile.TemporaryDirectory(prefix="timing-") as tmp:
                path = Path(tmp) / f"storyboard-timing-{echo_id}.mp4"
                try:
                    await self.bot.transcoder.animatic(
                        reel,
                        path,
                        reference=image.data if image is not None else None,
                        options=options_for(guild),
                        wait=False,
                    )
                except (TranscoderBusy, Stopped) as busy:
                    raise StoryboardError("fix.preview_busy") from busy
                # The seconds as written, also where a shot was held to the video's length.
                total = written_seconds(shots, echo.settings.seconds)
                text = t("fix.preview_posted", locale, total=total, video=reel.video_seconds)
                await interaction.followup.send(
                    text,
                    file=discord.File(path, filename=path.name),
                    ephemeral=True,
                    allowed_mentions=NO_MENTIONS,
                )
            claimed = False  # shown: the minute stands
            log.info("echo=%s: timing preview sent to user=%s", echo_id, user_id)
        except StoryboardError as error:
            await report_error(interaction, error, locale)
        finally:
            if claimed:  # nothing was shown: the member may press again at once
                self._started.pop(user_id, None)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(FixPreviewCog(bot))
