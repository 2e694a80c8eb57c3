"""The Bot: owns the shared HTTP session, the video API, the store and the cogs."""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord.ext import commands

from bot.config import Config
from bot.videos_api import VideoApi

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = ()


class StoryboardBot(commands.Bot):
    """Everything a cog needs hangs off this object; no module globals."""

    def __init__(self, config: Config, *, force_sync: bool = False) -> None:
        # No privileged intents: everything arrives as interactions.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.config = config
        self.force_sync = force_sync
        self._session: aiohttp.ClientSession | None = None
        self._video_api: VideoApi | None = None

    @property
    def video_api(self) -> VideoApi:
        if self._video_api is None:
            raise RuntimeError("video API used before setup_hook")
        return self._video_api

    async def setup_hook(self) -> None:
        self._session = aiohttp.ClientSession()
        self._video_api = VideoApi(self._session)
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        if self.config.dev_guild_ids:
            for gid in self.config.dev_guild_ids:
                guild = discord.Object(id=gid)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            log.info("commands synced to dev guilds %s", list(self.config.dev_guild_ids))
            return
        await self.tree.sync()
        log.info("commands synced globally")

    async def close(self) -> None:
        await super().close()
        if self._session is not None:
            await self._session.close()
