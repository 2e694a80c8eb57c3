"""What a job card says beyond the job's own row (issue 12): where a queued job stands in
its server's queue, and when a running one is likely done.

Both are read from the store when the card is built, so the card builder stays a pure
function of (job, facts). They are as fresh as the card's last edit: the tracker edits a
card only when the job itself visibly changes, never because another job moved.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel, ConfigDict

from bot.store import Job
from bot.store.api import StoreApi

# The estimate reads this many of the latest completed videos of the same model and length.
RECENT_JOBS = 20
# Fewer than this many, and a median says too little: the guild's own are not enough, so
# the whole bot's are used; if those are not enough either, there is no estimate.
ENOUGH_JOBS = 3


class Estimate(BaseModel):
    """When a running job is likely done: submitted plus the median duration of recent
    jobs like it (`typical`). `overdue`: that moment had passed when the card was built."""

    model_config = ConfigDict(frozen=True)

    done_at: float
    typical: float
    overdue: bool


class CardFacts(BaseModel):
    """`queue_place`: 1 + this guild's jobs waiting ahead (queued jobs only). `thumbnail`:
    the filename of the finished video's still, attached to the card's message."""

    model_config = ConfigDict(frozen=True)

    queue_place: int | None = None
    estimate: Estimate | None = None
    thumbnail: str | None = None


def median_estimate(durations: list[float], submitted_at: float, now: float) -> Estimate | None:
    if len(durations) < ENOUGH_JOBS:
        return None
    typical = statistics.median(durations)
    done_at = submitted_at + typical
    return Estimate(done_at=done_at, typical=typical, overdue=done_at <= now)


async def estimate_for(store: StoreApi, job: Job, now: float) -> Estimate | None:
    """From this guild's recent jobs of the same model and length, else the whole bot's."""
    if job.submitted_at is None or job.kind != "video":
        return None
    settings = job.storyboard.settings
    durations: list[float] = []
    if job.guild_id is not None:
        durations = await store.recent_durations(
            model=settings.model, seconds=settings.seconds, guild_id=job.guild_id, limit=RECENT_JOBS
        )
    if len(durations) < ENOUGH_JOBS:
        durations = await store.recent_durations(
            model=settings.model, seconds=settings.seconds, limit=RECENT_JOBS
        )
    return median_estimate(durations, job.submitted_at, now)


async def card_facts(store: StoreApi, job: Job, now: float) -> CardFacts:
    """The facts the card shows for the job's state now."""
    if job.state != "active":
        return CardFacts()
    if job.provider_status == "in_progress":
        return CardFacts(estimate=await estimate_for(store, job, now))
    if job.guild_id is None:
        return CardFacts()
    return CardFacts(queue_place=await store.queue_place(job.guild_id, job.id))
