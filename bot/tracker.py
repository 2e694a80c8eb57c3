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
import functools
import heapq
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.config import Config, TrackingSection
from bot.job_metadata import request_tags
from bot.leases import holding
from bot.store import Job, Resolution
from bot.store.api import StoreApi
from bot.videos_api import (
    KeyGone,
    NotFound,
    NotSupported,
    RateLimited,
    VideoApi,
    VideoApiError,
    VideoClient,
    VideoJob,
)
from bot.videos_api.sandbox import made_in_sandbox

log = logging.getLogger(__name__)

PROGRESS_STEP = 20
LINK_FIELDS = ("video_url", "download_url", "result_url", "url")
# A task is lost only after this many 404s in a row (and `lost_after_minutes`).
LOST_AFTER_LOOKS = 3


DeliveryOutcome = Literal["delivered", "retry", "permanent"]
# The start of `Job.delivery_error` for a job whose outcome no channel of it would take.
NOT_POSTED = "not posted:"


class Delivery(BaseModel):
    """What became of one attempt to tell a member how their job ended.

    `delivered`: posted (`message_id` when known). `retry`: a passing failure (Discord or
    the provider down); the tracker asks again with backoff. `permanent`: it can never
    be posted as it was (the thread is gone, the provider no longer keeps the video):
    the member was told what could be told, and the job is closed with `error`.
    """

    model_config = ConfigDict(frozen=True)

    outcome: DeliveryOutcome
    message_id: int | None = None
    error: str | None = None


class JobEvents(Protocol):
    """What the Discord side does for the tracker."""

    async def show_progress(self, job: Job) -> bool:
        """Bring the job card up to date; False if Discord did not take the edit."""

    async def deliver(self, job: Job, *, maybe_posted: bool) -> Delivery:
        """Post the outcome in the job's thread. With `maybe_posted`, an earlier attempt
        was cut off after its claim and may have posted: look for that post first."""

    async def give_up_delivery(self, job: Job) -> None:
        """Delivery kept failing for too long: a last, short notice, best effort."""


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
    if job.state in ("uncertain", "expired"):
        return f"{job.state}:{job.resolution or 'looking'}"
    if job.state == "completed" and job.delivery_message_id is not None:
        return "completed:delivered"  # the card gains a link to the video
    if job.state == "completed" and (job.delivery_error or "").startswith(NOT_POSTED):
        return "completed:not_posted"  # the card says why the member has no video
    return job.state


def video_link(job: Job) -> str | None:
    """A link to the finished video the provider gave, if any."""
    answer = job.provider_answer or {}
    for name in LINK_FIELDS:
        value = answer.get(name)
        if isinstance(value, str) and value.startswith("https://"):
            return value
    return None


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
        self._rescanning: asyncio.Task[None] | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.events: JobEvents | None = None

    @property
    def tracking(self) -> TrackingSection:
        return self._config().file.tracking

    @property
    def policy(self) -> PollPolicy:
        return PollPolicy.from_config(self.tracking)

    @property
    def open_count(self) -> int:
        return len(self._due_at) + len(self._busy)

    async def start(self) -> int:
        """Pick up every open job of this process's shards from the store and start the
        dispatcher; how many. A job belongs to the process holding its guild's shard (the
        one its interactions reach), so no other process follows it."""
        # Ids only: parsing 10,000 storyboards here stalled the event loop for 0.6 s.
        job_ids = await self._store.open_job_ids(self._config().shards)
        for job_id in job_ids:
            self.watch(job_id)
        # The count is in the bot's first line after login ("connected as ...").
        log.debug("tracker resumed %d open job(s)", len(job_ids))
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="storyboard-tracker")
        self._rescanning = asyncio.create_task(self._rescan(), name="storyboard-rescan")
        return len(job_ids)

    async def _rescan(self) -> None:
        """Now and then, pick up open jobs of this process's shards that nobody here
        follows. Jobs are loaded at start; one created by another process after that (a
        rolling deploy's old half, whose jobs this process inherits when it stops) would
        otherwise wait for the next start. A job followed twice meanwhile is harmless:
        every change is a compare-and-set and a delivery is claimed."""
        every = 60.0
        while not self._stopping:
            try:
                every = self.tracking.rescan_seconds
            except Exception:  # a config being replaced: the last interval meanwhile
                log.debug("tracker: rescan interval unreadable", exc_info=True)
            await asyncio.sleep(every)
            try:
                job_ids = await self._store.open_job_ids(self._config().shards)
            except Exception as exc:
                log.warning("tracker: could not look for open jobs: %r", exc)
                continue
            found = [i for i in job_ids if i not in self._due_at and i not in self._busy]
            for job_id in found:
                self.watch(job_id)
            if found:
                log.info("tracker: following %d open job(s) found in the store", len(found))

    async def stop(self, grace: float = 2.0) -> None:
        """Stop dispatching; let looks under way finish for up to `grace` seconds (a
        delivery cut between posting and recording it would have to be checked again)."""
        self._stopping = True
        self._wake.set()
        if self._rescanning is not None:
            self._rescanning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rescanning
            self._rescanning = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        running = {w for w in self._workers if not w.done()}
        if running and grace > 0:
            await asyncio.wait(running, timeout=grace)
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
        # A flag as well as the cancel: Python 3.11's `wait_for` can swallow a cancel that
        # lands as the wake-up event fires, and this loop then ran on after `stop` (a
        # stop that hung until pytest-timeout under load).
        while not self._stopping:
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
                async with asyncio.timeout(wait):
                    await self._wake.wait()

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
        if job.state == "pending":
            # Only a job whose create was cut off (a crash, a stop at the deadline) is still
            # pending when the tracker sees it: it may have reached the provider. Unless
            # another process is sending it right now (a rolling deploy's old half): then
            # its answer decides, and this one looks again when its hold would run out.
            job = await self._store.mark_unsent_uncertain(
                job.id, "the bot stopped while sending it"
            )
            if job.state == "pending":
                left = (job.send_lease_until or 0.0) - time.time()
                again = min(max(left, 1.0), self.tracking.delivery_lease_seconds)
                log.info(
                    "job=%s: its create is being sent by a live process; looking again in %.1f s",
                    job.id,
                    again,
                )
                self.watch(job.id, again)
                return
        if job.state == "uncertain" and job.resolution is None:
            await self._resolve(job)
        elif job.state == "active":
            await self._poll(job)
        elif job.delivered_at is None and job.state in (
            "completed",
            "failed",
            "expired",
            "uncertain",
        ):
            await self._finish(job)
        elif job.state == "expired" and job.resolution is None:
            await self._late_look(job)
        elif job.delivered_at is not None:
            self._card_again_later(await self._show(job))

    def _age(self, job: Job) -> float:
        return self._clock() - (job.submitted_at or job.created_at)

    def _past_horizon(self, job: Job) -> bool:
        return self._clock() - job.created_at > self.tracking.resolve_hours * 3600

    def client_for(self, job: Job) -> VideoClient:
        """The client with the key that made the job: a reload that rotated the guild's key
        must not turn the old key's running jobs into "not found"."""
        settings = self._config().settings_for(job.guild_id)
        if made_in_sandbox(job.task_id, job.key_fingerprint):
            # Made in-process: followed as such even if the guild now has a real provider
            # (cut off before its task id, too: no provider is asked to look for it).
            return self._api.sandbox_client(settings)
        if job.key_fingerprint is None:
            return self._api.client_for(settings)
        return self._api.client_for_fingerprint(job.key_fingerprint, settings)

    async def _look(self, job: Job) -> tuple[VideoJob, float | None] | None:
        """Poll the job's task; None when there is no answer to act on (the next look is
        booked). A 404 counts towards "lost" only when it lasts (see `_not_found`)."""
        assert job.task_id is not None
        policy = self.policy
        client = self.client_for(job)
        try:
            return await client.poll(job.task_id)
        except NotFound:
            if job.key_fingerprint is not None and client.fingerprint != job.key_fingerprint:
                await self._key_gone(job)
            else:
                await self._not_found(job)
        except RateLimited as exc:
            wait = exc.retry_after if exc.retry_after is not None else policy.max_seconds
            wait = max(wait, policy.min_seconds)  # "Retry-After: 0" must not spin
            log.info(
                "job=%s task_id=%s rate limited; next look in %.0f s", job.id, job.task_id, wait
            )
            self.watch(job.id, wait)
        except VideoApiError as exc:
            log.warning("job=%s task_id=%s poll failed: %s", job.id, job.task_id, exc.key)
            self.watch(job.id, policy.interval(self._age(job), None) * 2)
        return None

    async def _not_found(self, job: Job) -> None:
        """One 404 is not a failure: a rotated key or a relay hiccup answers 404 for a while.
        The job is lost only after several 404s in a row spanning `lost_after_minutes`."""
        job = await self._store.note_look(job.id, lost=True)
        lost_for = self._clock() - (job.lost_since or self._clock())
        minutes = self.tracking.lost_after_minutes
        if job.looks >= LOST_AFTER_LOOKS and lost_for >= minutes * 60:
            log.warning(
                "job=%s task_id=%s unknown to the provider for %.0f s (%d looks): failed",
                job.id,
                job.task_id,
                lost_for,
                job.looks,
            )
            await self._finish(await self._store.mark_lost(job.id, minutes))
            return
        log.info(
            "job=%s task_id=%s: provider says not found (%d in a row); looking again",
            job.id,
            job.task_id,
            job.looks,
        )
        delay = min(self.policy.max_seconds, max(minutes * 60 / LOST_AFTER_LOOKS, 1.0))
        self.watch(job.id, delay)

    async def _key_gone(self, job: Job) -> None:
        """The key that made the job is no longer configured (rotated, then a restart): the
        guild's new key can't see the task, so its 404 says nothing about the job, which may
        still run and be charged. Never "lost" for that; looked at slowly (the old key may
        come back) until the horizon, then closed as expired, with no Retry."""
        log.warning(
            "job=%s task_id=%s was made with a key this guild no longer has; its 404s don't"
            " count. Add the old key back to follow it",
            job.id,
            job.task_id,
        )
        if not self._past_horizon(job):
            self.watch(job.id, self.tracking.late_poll_minutes * 60)
            return
        if job.state == "active":
            job = await self._store.mark_expired(job.id, self.policy.max_job_seconds / 60)
        await self._finish(await self._store.set_resolution(job.id, "gave_up"))

    async def _poll(self, job: Job) -> None:
        policy = self.policy
        age = self._age(job)
        looked = await self._look(job)
        if looked is None:
            return
        video, hint = looked
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

    async def _late_look(self, job: Job) -> None:
        """An expired job is still paid for: look now and then whether it finished after all,
        until the horizon; a late video is delivered like any other."""
        if self._past_horizon(job):
            log.info("job=%s task_id=%s: stopped looking after the horizon", job.id, job.task_id)
            self._card_again_later(
                await self._show(await self._store.set_resolution(job.id, "gave_up"))
            )
            return
        looked = await self._look(job)
        if looked is None:
            return
        video, _ = looked
        job = await self._store.record_poll(job.id, video)
        if job.state in ("completed", "failed"):
            log.info("job=%s task_id=%s finished after expiry (%s)", job.id, job.task_id, job.state)
            await self._finish(job)
            return
        self.watch(job.id, self.tracking.late_poll_minutes * 60)

    async def _show(self, job: Job) -> Job:
        shown = visible_state(job)
        if self.events is None or shown == job.card_shown:
            return job
        if await self.events.show_progress(job):
            return await self._store.set_card_shown(job.id, shown)
        return job

    async def _finish(self, job: Job) -> None:
        """Tell the member how the job ended, exactly once, and bring the card up to date."""
        job = await self._show(job)
        if self.events is None:
            self.watch(job.id, self.tracking.delivery_retry_seconds)
            return
        maybe_posted = job.delivery_claimed_at is not None
        lease = self.tracking.delivery_lease_seconds
        claimed = await self._store.claim_delivery(job.id, lease)
        if claimed is None:
            # Delivered meanwhile, or another process is delivering it (a rolling deploy's
            # other half): look again once its claim would have run out.
            job = await self._store.job(job.id)
            if job.delivered_at is None:
                left = (job.delivery_lease_until or 0.0) - time.time()
                again = max(left, self.tracking.delivery_retry_seconds)
                # Said, so that an admin who finds no delivery in this process's log
                # sees who has it (the other process's log says how it went).
                log.info(
                    "job=%s task_id=%s: another process is delivering it; looking again in %.1f s",
                    job.id,
                    job.task_id,
                    again,
                )
                self.watch(job.id, again)
            return
        job = claimed
        if job.delivered_at is not None:
            return
        try:
            renew = functools.partial(self._store.renew_delivery, job.id, lease)
            async with holding(renew, lease, f"job={job.id}: delivery claim"):
                result = await self.events.deliver(job, maybe_posted=maybe_posted)
        except Exception as exc:
            # Unforeseen (a full disk, a bug): a passing failure, with the same backoff and
            # give-up as any, never a retry every minute forever.
            log.warning(
                "job=%s task_id=%s: delivery failed: %r", job.id, job.task_id, exc, exc_info=True
            )
            result = Delivery(outcome="retry")
        if result.outcome == "retry":
            await self._delivery_failed(job)
            return
        job = await self._store.mark_delivered(
            job.id, message_id=result.message_id, error=result.error, state=job.state
        )
        log.info(
            "job=%s task_id=%s delivered (%s)%s",
            job.id,
            job.task_id,
            job.state,
            f"; {result.error}" if result.error else "",
        )
        self._card_again_later(await self._show(job))
        if job.state == "expired" and job.resolution is None:
            self.watch(job.id, self.tracking.late_poll_minutes * 60)

    async def _delivery_failed(self, job: Job) -> None:
        """A passing failure: back off (capped); past `delivery_give_up_hours`, a last notice."""
        assert self.events is not None
        posted = job.state  # the outcome that could not be posted
        job = await self._store.note_delivery_failure(job.id)
        tracking = self.tracking
        failing_for = self._clock() - (job.delivery_failing_since or self._clock())
        if failing_for >= tracking.delivery_give_up_hours * 3600:
            log.warning(
                "job=%s task_id=%s: delivery failed for %.0f s (%d tries); giving up",
                job.id,
                job.task_id,
                failing_for,
                job.delivery_failures,
            )
            await self.events.give_up_delivery(job)
            await self._store.mark_delivered(
                job.id, error="gave up after repeated failures", state=posted
            )
            return
        delay = min(
            tracking.delivery_retry_max_minutes * 60,
            tracking.delivery_retry_seconds * 2 ** min(job.delivery_failures - 1, 16),
        )
        log.info("job=%s task_id=%s: delivery again in %.0f s", job.id, job.task_id, delay)
        self.watch(job.id, delay)

    def _card_again_later(self, job: Job) -> None:
        """Discord refused the card's last edit (after discord.py's own retries): the member
        must still see how the job ended, so try again, for as long as a job may run."""
        if job.card_message_id is None or job.card_shown == visible_state(job):
            return
        policy = self.policy
        if self._clock() - (job.finished_at or job.updated_at) < policy.max_job_seconds:
            self.watch(job.id, policy.max_seconds)

    async def _resolve(self, job: Job) -> None:
        """A create whose outcome we never heard: look for it at the provider by the job's own
        id in `metadata`, with backoff, until found or past the horizon. Never send again."""
        client = self.client_for(job)
        if not client.can_list or not client.profile.allows("metadata"):
            await self._stop_resolving(job, "unlistable")
            return
        try:
            video = await client.find_by_metadata(await request_tags(self._store, job))
        except NotSupported:
            await self._stop_resolving(job, "unlistable")
            return
        except VideoApiError as exc:
            log.info("job=%s: provider list failed (%s); looking again", job.id, exc.key)
            video = None
        if video is not None:
            job = await self._store.mark_submitted(job.id, video)
            log.info("job=%s found at the provider as task_id=%s", job.id, video.id)
            await self._show(job)
            self.watch(job.id)
            return
        job = await self._store.note_look(job.id)
        if self._past_horizon(job):
            await self._stop_resolving(job, "not_found")
            return
        delays = self.tracking.resolve_delays_seconds
        delay = delays[min(job.looks, len(delays)) - 1]
        log.info(
            "job=%s: not found at the provider yet (look %d); next in %.1f s",
            job.id,
            job.looks,
            delay,
        )
        await self._show(job)
        self.watch(job.id, delay)

    async def _stop_resolving(self, job: Job, why: Resolution) -> None:
        # Paying twice is worse than asking: the member decides, told plainly.
        job = await self._store.set_resolution(job.id, why)
        log.info(
            "job=%s: outcome unknown (%s); the member decides whether to resubmit", job.id, why
        )
        await self._finish(job)

    async def download(self, job: Job, dest: Path, max_bytes: int) -> int:
        """Stream the finished video to `dest` with the key that made the job. `KeyGone`
        when that key is no longer configured: the 404 of the client used instead (the
        guild's new key, or the sandbox) does not mean the video is gone."""
        assert job.task_id is not None
        client = self.client_for(job)
        try:
            return await client.download_content(job.task_id, dest, max_bytes=max_bytes)
        except NotFound:
            if job.key_fingerprint is None or client.fingerprint == job.key_fingerprint:
                raise
            log.warning(
                "job=%s task_id=%s was made with a key this guild no longer has, so its video"
                " can't be fetched. Add the old key back (previous_api_keys) to deliver it",
                job.id,
                job.task_id,
            )
            raise KeyGone from None
