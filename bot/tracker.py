"""Following every open job to its end: one dispatcher task, state in the store.

After RoboDanny's durable timers: the store says which jobs are open, a heap in
memory says when each is next due, and one task wakes for the earliest (or
when `watch` adds one). A restart rebuilds the heap from the store, so no job
is lost; delivery is marked in the store only after it was posted, so a job
that finished while the bot was down is delivered once.

The Discord side registers as `events`: the tracker decides *when* a member
would notice something (status, or progress in steps) and asks it to show
that; it never builds a message itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.config import Config, TrackingSection
from bot.store import Job
from bot.store_api import StoreApi
from bot.videos_api import NotFound, RateLimited, VideoApi, VideoApiError, VideoJob
from bot.videos_api.models import VideoError

log = logging.getLogger(__name__)

PROGRESS_STEP = 20
LINK_FIELDS = ("video_url", "download_url", "result_url", "url")
# How often to try again to tell a member about a finished job Discord would not take.
DELIVERY_RETRY_SECONDS = 60.0


class JobEvents(Protocol):
    """What the Discord side does for the tracker."""

    async def show_progress(self, job: Job) -> bool:
        """Bring the job card up to date; False if Discord did not take the edit."""

    async def deliver(self, job: Job) -> bool:
        """Post the outcome in the job's thread; False to be asked again later."""


class PollPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_seconds: float = 5.0
    max_seconds: float = 60.0
    max_job_seconds: float = 3600.0
    # Jobs slow down as they age: the interval doubles every `ramp_seconds`.
    ramp_seconds: float = 120.0
    jitter: float = 0.1

    @classmethod
    def from_config(cls, tracking: TrackingSection) -> PollPolicy:
        return cls(
            min_seconds=tracking.poll_min_seconds,
            max_seconds=max(tracking.poll_max_seconds, tracking.poll_min_seconds),
            max_job_seconds=tracking.max_job_minutes * 60,
        )

    def interval(self, age: float, hint: float | None) -> float:
        base = max(self.min_seconds, hint or 0.0)
        grown = base * (1 + max(0.0, age) / self.ramp_seconds)
        bounded = min(self.max_seconds, max(self.min_seconds, grown))
        return bounded * random.uniform(1 - self.jitter, 1 + self.jitter)


def visible_state(job: Job) -> str:
    """What the card shows, coarsely: an edit happens only when this changes."""
    if job.state == "active":
        if job.provider_status == "in_progress":
            return f"in_progress:{job.progress // PROGRESS_STEP * PROGRESS_STEP}"
        return "queued"
    return job.state


def video_link(job: Job) -> str | None:
    """A link to the finished video the provider gave, if any."""
    answer = job.provider_answer or {}
    for name in LINK_FIELDS:
        value = answer.get(name)
        if isinstance(value, str) and value.startswith("https://"):
            return value
    return None


def _belongs_to(video: VideoJob, job: Job) -> bool:
    raw = (video.model_extra or {}).get("metadata")
    if not isinstance(raw, str):
        return False
    try:
        meta = json.loads(raw)
    except ValueError:
        return False
    return isinstance(meta, dict) and meta.get("request") == job.request_key


class Tracker:
    def __init__(
        self,
        store: StoreApi,
        api: VideoApi,
        config: Callable[[], Config],
        *,
        concurrency: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._api = api
        self._config = config
        self._clock = clock
        self._concurrency = concurrency
        self._heap: list[tuple[float, int]] = []
        self._due_at: dict[int, float] = {}
        self._busy: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self.events: JobEvents | None = None

    @property
    def policy(self) -> PollPolicy:
        return PollPolicy.from_config(self._config().file.tracking)

    @property
    def open_count(self) -> int:
        return len(self._due_at) + len(self._busy)

    async def start(self) -> None:
        """Pick up every open job from the store and start the dispatcher."""
        # Ids only: parsing 10,000 storyboards here stalled the event loop for 0.6 s.
        job_ids = await self._store.open_job_ids()
        for job_id in job_ids:
            self.watch(job_id)
        log.info("tracker resumed %d open job(s)", len(job_ids))
        self._task = asyncio.create_task(self._run(), name="storyboard-tracker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for worker in list(self._workers):
            worker.cancel()
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)

    def watch(self, job_id: int, delay: float = 0.0) -> None:
        """Look at `job_id` after `delay` seconds (sooner if it was already due sooner)."""
        due = self._clock() + delay
        if job_id in self._due_at and self._due_at[job_id] <= due:
            return
        self._due_at[job_id] = due
        heapq.heappush(self._heap, (due, job_id))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            now = self._clock()
            # A worker only for a free slot: with the key's ceiling the limit, nearly every
            # job is due, and a waiting task per job cost 1.5 KB each and GC time.
            while self._heap and self._heap[0][0] <= now and len(self._busy) < self._concurrency:
                due, job_id = heapq.heappop(self._heap)
                if self._due_at.get(job_id) != due:
                    continue  # superseded by an earlier or later booking
                del self._due_at[job_id]
                if job_id in self._busy:
                    self.watch(job_id, 1.0)
                    continue
                self._busy.add(job_id)
                worker = asyncio.create_task(self._work(job_id))
                self._workers.add(worker)
                worker.add_done_callback(self._workers.discard)
            full = len(self._busy) >= self._concurrency
            wait = None if full or not self._heap else self._heap[0][0] - now
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _work(self, job_id: int) -> None:
        try:
            await self.step(job_id)
        except Exception:
            log.exception("job=%s: tracking step failed; trying again later", job_id)
            self.watch(job_id, self.policy.max_seconds)
        finally:
            self._busy.discard(job_id)
            self._wake.set()  # a slot is free

    async def step(self, job_id: int) -> None:
        """One look at one job: resolve, poll, or deliver, then book the next look."""
        job = await self._store.find_job(job_id)
        if job is None:
            return
        if job.state in ("pending", "uncertain"):
            await self._resolve(job)
        elif job.state == "active":
            await self._poll(job)
        elif job.delivered_at is None and job.state in ("completed", "failed", "expired"):
            await self._finish(job)
        elif job.delivered_at is not None:
            self._card_again_later(await self._show(job))

    def _age(self, job: Job) -> float:
        return self._clock() - (job.submitted_at or job.created_at)

    async def _poll(self, job: Job) -> None:
        policy = self.policy
        age = self._age(job)
        assert job.task_id is not None
        client = self._api.client_for(self._config().settings_for(job.guild_id))
        try:
            video, hint = await client.poll(job.task_id)
        except NotFound:
            lost = VideoError(code="not_found", message="The provider no longer knows this task.")
            video, hint = VideoJob(id=job.task_id, status="failed", error=lost), None
        except RateLimited as exc:
            wait = exc.retry_after if exc.retry_after is not None else policy.max_seconds
            log.info(
                "job=%s task_id=%s rate limited; next look in %.0f s", job.id, job.task_id, wait
            )
            self.watch(job.id, wait)
            return
        except VideoApiError as exc:
            log.warning("job=%s task_id=%s poll failed: %s", job.id, job.task_id, exc.key)
            self.watch(job.id, policy.interval(age, None) * 2)
            return
        before = job.provider_status, job.progress
        job = await self._store.record_poll(job.id, video)
        if (job.provider_status, job.progress) != before:
            log.info(
                "job=%s task_id=%s status=%s progress=%s",
                job.id,
                job.task_id,
                job.provider_status,
                job.progress,
            )
        if job.state == "cancelled":
            return  # cancelled by its member while this poll was under way
        if job.state != "active":
            await self._finish(job)
            return
        # Expired only after this last look: a video that finished late is still delivered.
        if age > policy.max_job_seconds:
            log.warning("job=%s task_id=%s expired after %.0f s", job.id, job.task_id, age)
            await self._finish(await self._store.mark_expired(job.id, policy.max_job_seconds / 60))
            return
        await self._show(job)
        self.watch(job.id, policy.interval(age, hint))

    async def _show(self, job: Job) -> Job:
        shown = visible_state(job)
        if self.events is None or shown == job.card_shown:
            return job
        if await self.events.show_progress(job):
            return await self._store.set_card_shown(job.id, shown)
        return job

    async def _finish(self, job: Job) -> None:
        job = await self._show(job)
        if self.events is None:
            self.watch(job.id, DELIVERY_RETRY_SECONDS)
            return
        if await self.events.deliver(job):
            job = await self._store.mark_delivered(job.id)
            log.info("job=%s task_id=%s delivered (%s)", job.id, job.task_id, job.state)
            self._card_again_later(job)
        else:
            self.watch(job.id, DELIVERY_RETRY_SECONDS)

    def _card_again_later(self, job: Job) -> None:
        """Discord refused the card's last edit (after discord.py's own retries): the member
        must still see how the job ended, so try again, for as long as a job may run."""
        if job.card_message_id is None or job.card_shown == visible_state(job):
            return
        policy = self.policy
        if self._clock() - (job.finished_at or job.updated_at) < policy.max_job_seconds:
            self.watch(job.id, policy.max_seconds)

    async def _resolve(self, job: Job) -> None:
        """A create whose outcome we never heard: find the job at the provider, or ask the member."""
        settings = self._config().settings_for(job.guild_id)
        profile = settings.profile
        if profile.list_path is None or not profile.allows("metadata"):
            await self._give_up_resolving(job)
            return
        client = self._api.client_for(settings)
        after: str | None = None
        try:
            for _ in range(4):
                page = await client.list_videos(limit=100, after=after)
                for video in page:
                    if _belongs_to(video, job):
                        job = await self._store.mark_submitted(job.id, video)
                        log.info("job=%s found at the provider as task_id=%s", job.id, video.id)
                        await self._show(job)
                        self.watch(job.id)
                        return
                if len(page) < 100:
                    break
                after = page[-1].id
        except VideoApiError as exc:
            if self._age(job) < self.policy.max_job_seconds:
                log.info("job=%s: provider list failed (%s); trying again", job.id, exc.key)
                self.watch(job.id, self.policy.max_seconds)
                return
        await self._give_up_resolving(job)

    async def _give_up_resolving(self, job: Job) -> None:
        # Not found, or the provider can't list: paying twice is worse than asking.
        if job.state == "pending":
            job = await self._store.mark_uncertain(job.id, "not found at the provider")
        log.info("job=%s: outcome unknown; the member decides whether to retry", job.id)
        await self._show(job)

    async def download(self, job: Job, dest: Path, max_bytes: int) -> int:
        """Stream the finished video to `dest` with the job's guild key."""
        assert job.task_id is not None
        client = self._api.client_for(self._config().settings_for(job.guild_id))
        return await client.download_content(job.task_id, dest, max_bytes=max_bytes)
