"""A sandbox job's "video": its storyboard's animatic, drawn again from what the store keeps.

The sandbox provider (`bot.videos_api.sandbox`) makes no video and keeps none: at download
its client asks `SandboxVideos.render`, which finds the job by its task id and renders the
animatic of its stored storyboard over its stored reference image. That image is the one
`job_images` keeps with every job for Retry and "Edit & redo", stored with the job before
the create is sent and exactly as a provider would have got it (already fitted), so a
restart between create and delivery still has it, and it lives and goes with the job.

The bot delivers through it, and `storyboard-bot fetch-video` wires the same client, so an
admin fetching a sandbox job gets the file the member got.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from bot.animatic import options_for
from bot.config import Config, GuildSettings
from bot.errors import StoryboardError
from bot.store.api import StoreApi
from bot.transcoder import Transcoder, TranscoderBusy
from bot.videos_api import ProviderDown, VideoClient
from bot.videos_api.sandbox import SandboxClient

log = logging.getLogger(__name__)


class SandboxVideos:
    """Makes a guild's sandbox client, whose downloads render the job's animatic."""

    def __init__(
        self,
        store: StoreApi,
        config: Callable[[], Config],
        transcoder: Transcoder,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._config = config
        self._transcoder = transcoder
        self._clock = clock
        # Sandbox tasks cancelled in this process (the store records the job as cancelled).
        self._cancelled: set[str] = set()

    def client(self, settings: GuildSettings) -> VideoClient:
        return SandboxClient(
            profile=settings.profile,
            seconds=settings.sandbox_seconds,
            render=self.render,
            cancelled=self._cancelled,
            clock=self._clock,
        )

    async def render(self, task_id: str, dest: Path) -> bool:
        """Write the animatic of the job with `task_id` to `dest`, in the transcoder's
        slots; False when the store has no such job."""
        job = await self._store.job_by_task(task_id)
        if job is None:
            return False
        options = options_for(self._config().settings_for(job.guild_id))
        image = await self._store.job_image(job.id)
        reference = image.data if image is not None else None
        try:
            try:
                await self._transcoder.animatic(
                    job.storyboard, dest, reference=reference, options=options
                )
            except StoryboardError as exc:
                if reference is None:
                    raise
                # Checked when it was stored, so not expected; the member still gets the
                # storyboard, over the plain background, rather than no delivery at all.
                log.warning(
                    "task_id=%s stored reference image unusable (%s): animatic without it",
                    task_id,
                    exc.key,
                )
                await self._transcoder.animatic(job.storyboard, dest, options=options)
        except TranscoderBusy:
            # As a provider's 503: the delivery is tried again later.
            raise ProviderDown(None, "every transcode slot is busy") from None
        return True
