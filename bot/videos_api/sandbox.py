"""The sandbox provider: `POST /videos` honoured in-process, no key and no network.

An admin trying the bot before buying a key sees every state a real job goes through:
queued, in progress with its progress rising, completed, then delivery. The "video" is
the storyboard's animatic, rendered when it is downloaded.

This client keeps nothing but the task id: it holds when the job was made and how long
it takes (`sandbox-<created ms>-<duration ms>-<random>`), so a job's state is a function
of the clock and a restarted bot (or another process of a fleet) still follows and
delivers it. The animatic is rendered again at download from what the store already
keeps with the job, its storyboard and its reference image (`SandboxRender`, given by
`bot.sandbox_videos`), which also spares keeping videos anywhere. A cancelled task is
remembered in this process only: after a restart it would read "completed", but the
store already records the job as cancelled, so nobody asks.

It validates as the relay profile does (lengths, pro-only lengths, sizes), so a
storyboard the sandbox takes is one the relay would take.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path

from bot.profiles import ProviderProfile
from bot.videos_api.client import VideoClient
from bot.videos_api.errors import ContentTooLarge, NotFound, NotSupported, Rejected
from bot.videos_api.models import CreateVideoRequest, VideoJob

log = logging.getLogger(__name__)

# Renders the animatic of the job whose task id it is given to the path; False when
# there is no such job (then the "provider" answers 404, as for a deleted video).
SandboxRender = Callable[[str, Path], Awaitable[bool]]

PREFIX = "sandbox-"
# The key fingerprint a sandbox job is stored with: before its create has a task id
# (cut off mid-submit, then "uncertain"), this is what says it never reached a provider,
# so it is never looked for at one when the server has a real provider by then.
FINGERPRINT = "sandbox"
_TASK_ID = re.compile(r"^sandbox-(\d{1,15})-(\d{1,9})-[0-9a-f]{8,32}$")
# The first part of the job's time it is "queued", as a real provider's jobs are.
QUEUED_SHARE = 0.2


def is_sandbox_task(task_id: str) -> bool:
    return task_id.startswith(PREFIX)


def made_in_sandbox(task_id: str | None, key_fingerprint: str | None) -> bool:
    """Whether a stored job was made by the sandbox: its task id says so, or, before it
    has one, the fingerprint it was stored with."""
    if task_id is not None:
        return is_sandbox_task(task_id)
    return key_fingerprint == FINGERPRINT


def _parse(task_id: str) -> tuple[float, float]:
    """When the task was made and how long it takes, in seconds; `NotFound` if not ours."""
    match = _TASK_ID.match(task_id)
    if match is None:
        raise NotFound(404, f"no sandbox video {task_id!r}", None, None)
    return int(match[1]) / 1000, int(match[2]) / 1000


class SandboxClient(VideoClient):
    """A `VideoClient` without a provider: the same calls, answered from the task id.

    It subclasses `VideoClient` so the tracker, submission and delivery take it where they
    take a client; every public method is overridden, none reaches the network.
    """

    def __init__(
        self,
        *,
        profile: ProviderProfile,
        seconds: float,
        render: SandboxRender | None,
        cancelled: set[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Deliberately not VideoClient.__init__: there is no session, key or pacer.
        self.profile = profile
        self._seconds = seconds
        self._render = render
        self._cancelled = cancelled
        self._clock = clock

    @property
    def fingerprint(self) -> str:
        return FINGERPRINT

    @property
    def can_list(self) -> bool:
        return False

    def _check(self, request: CreateVideoRequest) -> None:
        """What the relay would refuse with a 400, refused the same way."""
        request.form_fields(self.profile)  # NotSupported for a field the profile lacks
        profile = self.profile
        if request.seconds is not None and request.seconds not in profile.allowed_seconds:
            allowed = ", ".join(str(s) for s in profile.allowed_seconds)
            raise Rejected(400, f"seconds must be one of {allowed}", "seconds", "invalid_value")
        if request.seconds in profile.pro_only_seconds and not profile.is_pro_model(request.model):
            raise Rejected(
                400, f"{request.seconds} s needs a pro model", "seconds", "invalid_value"
            )
        if request.size is not None and request.size not in profile.sizes.values():
            sizes = ", ".join(profile.sizes.values())
            raise Rejected(400, f"size must be one of {sizes}", "size", "invalid_value")
        if not request.prompt.strip():
            raise Rejected(400, "prompt is required", "prompt", "missing")

    def _state(self, task_id: str, request: CreateVideoRequest | None = None) -> VideoJob:
        created, duration = _parse(task_id)
        elapsed = self._clock() - created
        data: dict[str, object] = {
            "id": task_id,
            "object": "video",
            "created_at": int(created),
            "sandbox": True,
        }
        if request is not None:
            data |= {"model": request.model, "seconds": request.seconds, "size": request.size}
        if task_id in self._cancelled:
            data |= {"status": "cancelled", "progress": 0}
        elif elapsed >= duration:
            data |= {
                "status": "completed",
                "progress": 100,
                "completed_at": int(created + duration),
            }
        elif elapsed < duration * QUEUED_SHARE:
            data |= {"status": "queued", "progress": 0}
        else:
            share = (elapsed - duration * QUEUED_SHARE) / (duration * (1 - QUEUED_SHARE))
            data |= {"status": "in_progress", "progress": max(1, min(99, math.floor(share * 100)))}
        return VideoJob.model_validate(data)

    async def create(self, request: CreateVideoRequest) -> VideoJob:
        self._check(request)
        created_ms = int(self._clock() * 1000)
        task_id = f"{PREFIX}{created_ms}-{int(self._seconds * 1000)}-{secrets.token_hex(8)}"
        job = self._state(task_id, request)
        log.info("sandbox created task_id=%s model=%s seconds=%s", task_id, job.model, job.seconds)
        return job

    async def poll(self, video_id: str) -> tuple[VideoJob, float | None]:
        # No hint: the tracker's own polling policy, as for a provider that gives none.
        return self._state(video_id), None

    async def retrieve(self, video_id: str) -> VideoJob:
        return self._state(video_id)

    async def list_videos(self, *, limit: int = 20, after: str | None = None) -> list[VideoJob]:
        raise NotSupported("list", self.profile.name)

    async def find_by_metadata(
        self, request_key: str | Collection[str], *, pages: int = 4
    ) -> VideoJob | None:
        raise NotSupported("list", self.profile.name)

    async def delete(self, video_id: str) -> None:
        _parse(video_id)
        self._cancelled.add(video_id)
        log.info("sandbox deleted task_id=%s", video_id)

    async def remix(self, video_id: str, prompt: str) -> VideoJob:
        raise NotSupported("remix", self.profile.name)

    async def ping(self) -> None:
        return None

    async def download_content(
        self, video_id: str, dest: Path, *, max_bytes: int, variant: str | None = None
    ) -> int:
        job = self._state(video_id)
        if job.status != "completed" or variant is not None or self._render is None:
            raise NotFound(404, f"no content for sandbox video {video_id!r}", None, None)
        if not await self._render(video_id, dest):
            raise NotFound(404, f"no storyboard for sandbox video {video_id!r}", None, None)
        size = (await asyncio.to_thread(dest.stat)).st_size
        if size > max_bytes:
            await asyncio.to_thread(dest.unlink, missing_ok=True)
            raise ContentTooLarge(max_bytes)
        return size
