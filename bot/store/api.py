"""The store's interface: what the tracker, the submission path and the cogs rely on.

`Store` (`bot.store.jobs`) implements it on SQLite or PostgreSQL (`bot.store.db`);
mypy checks that it conforms.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from bot.access import QuotaRule, Usage
from bot.drafts import Draft, DraftState
from bot.shards import Shards
from bot.store.echoes import FormEcho
from bot.store.models import Job, JobState, NewJob, Resolution
from bot.store.previews import PreviewClaim, PreviewClaimed
from bot.storyboard import StoryboardSettings
from bot.thumbnails import Thumbnail
from bot.videos_api.models import ReferenceImage, VideoJob


class DraftStoreApi(Protocol):
    async def create(
        self,
        *,
        guild_id: int,
        channel_id: int,
        owner_id: int,
        title: str,
        locale: str,
        settings: StoryboardSettings,
    ) -> Draft: ...

    async def find(self, draft_id: int) -> Draft | None: ...

    async def get(self, draft_id: int) -> Draft: ...

    async def set_panel(self, draft_id: int, *, thread_id: int, panel_message_id: int) -> Draft: ...

    async def add_shot(
        self, draft_id: int, *, scene: str, duration: int | None, author_id: int
    ) -> Draft: ...

    async def edit_shot(
        self, draft_id: int, shot_id: int, *, seen_version: int, scene: str, duration: int | None
    ) -> Draft: ...

    async def remove_shot(self, draft_id: int, shot_id: int, *, seen_version: int) -> Draft: ...

    async def move_shot(self, draft_id: int, shot_id: int, step: int) -> Draft:
        """Swap a shot with its neighbour above (-1) or below (+1)."""

    async def update_settings(
        self, draft_id: int, *, seen_version: int, settings: StoryboardSettings
    ) -> Draft: ...

    async def set_image(self, draft_id: int, image: ReferenceImage) -> Draft: ...

    async def image(self, draft_id: int) -> ReferenceImage | None: ...

    async def close(
        self,
        draft_id: int,
        state: DraftState,
        *,
        job_id: int | None = None,
        only_if_open: bool = True,
    ) -> bool:
        """Lock a draft as submitted, discarded or archived; False if it was not open."""

    async def reopen(self, draft_id: int) -> None:
        """A submission that did not go through leaves the draft open for another try."""

    async def open_for_member(
        self, guild_id: int, user_id: int, limit: int = 25
    ) -> list[Draft]: ...

    async def untouched_since(self, cutoff: float) -> list[Draft]: ...

    async def stash_image(self, user_id: int, image: ReferenceImage) -> int: ...

    async def stashed_image(self, stash_id: int, user_id: int) -> ReferenceImage | None: ...


class EchoStoreApi(Protocol):
    async def save(
        self,
        *,
        user_id: int,
        guild_id: int | None,
        channel_id: int,
        settings: StoryboardSettings,
        fields: tuple[str, ...],
        stash_id: int | None = None,
    ) -> int:
        """Keep what a member typed into a refused form (a day); its id is the Fix button's."""

    async def find(self, echo_id: int) -> FormEcho | None: ...


class PreviewStoreApi(Protocol):
    async def claim(self, draft_id: int, key: str, *, now: float, every: float) -> PreviewClaim:
        """Link to the last preview of `key`, wait, or render now (atomic, fleet-wide)."""

    async def posted(
        self, draft_id: int, key: str, *, started_at: float, channel_id: int, message_id: int
    ) -> None: ...

    async def failed(self, draft_id: int, claim: PreviewClaimed) -> None: ...


class StoreApi(Protocol):
    @property
    def drafts(self) -> DraftStoreApi:
        """Draft operations, on the store's database."""

    @property
    def previews(self) -> PreviewStoreApi:
        """Drafts' animatic previews: their rate limit and the last one posted."""

    @property
    def echoes(self) -> EchoStoreApi:
        """What members typed into refused forms, for their Fix buttons."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Proves the database answers and is writable."""

    async def create_job(
        self, new: NewJob, quota: QuotaRule | None = None, *, send_lease: float | None = None
    ) -> Job:
        """Store a job in state `pending`; raises `DuplicateRequest` for a known request key.
        With `send_lease`, this process holds its send that many seconds (`renew_send`)."""

    async def usage_now(self, guild_id: int | None, user_id: int, since: float) -> Usage:
        """Jobs that count (`bot.store.COUNTED`) since `since`."""

    async def usage_by_member(self, guild_id: int, since: float) -> list[tuple[int, int, int]]:
        """(user id, jobs, video seconds) since `since`, busiest first; jobs that count only."""

    async def undelivered_of(self, guild_id: int, prefix: str, since: float) -> list[Job]:
        """A guild's jobs closed since `since` whose delivery error starts with `prefix`."""
        ...

    async def open_jobs_of(self, guild_id: int) -> list[Job]: ...

    async def mark_submitted(self, job_id: int, video: VideoJob) -> Job: ...

    async def mark_submit_failed(
        self, job_id: int, error_key: str, fields: dict[str, Any]
    ) -> Job: ...

    async def mark_uncertain(
        self, job_id: int, detail: str, resolution: Resolution | None = None
    ) -> Job: ...

    async def mark_unsent_uncertain(self, job_id: int, detail: str) -> Job:
        """A pending job no live process is sending becomes uncertain; one whose send
        another process holds is returned still pending."""

    async def renew_send(self, job_id: int, lease_seconds: float) -> bool:
        """Extend this process's hold on a pending job's send; False once it is lost."""

    async def release_send(self, job_id: int) -> None:
        """Give up this process's hold on a job's send (cut off by a stop)."""

    async def set_resolution(self, job_id: int, resolution: Resolution) -> Job:
        """Stop looking for an uncertain or expired job; the member is told why."""

    async def note_look(self, job_id: int, *, lost: bool = False) -> Job:
        """One more look that found nothing (with `lost`, a 404 on a known task)."""

    async def mark_lost(self, job_id: int, minutes: float) -> Job:
        """The provider kept saying it does not know the task: the job failed."""

    async def set_card(
        self,
        job_id: int,
        *,
        channel_id: int,
        message_id: int,
        thread_id: int | None,
        shown: str | None = None,
    ) -> Job: ...

    async def job(self, job_id: int) -> Job: ...

    async def find_job(self, job_id: int) -> Job | None: ...

    async def job_by_request_key(self, key: str) -> Job | None: ...

    async def job_by_task(self, task_id: str) -> Job | None: ...

    async def jobs(self) -> list[Job]: ...

    async def job_by_reference(self, guild_id: int | None, reference: str) -> Job | None:
        """A guild's job by its number (`12`, `#12`) or the provider's task id."""

    async def job_image(self, job_id: int) -> ReferenceImage | None: ...

    async def keep_still(self, job_id: int, filename: str, data: bytes) -> None:
        """The still made from a delivered video, for its card (replaces an earlier one)."""

    async def job_still(self, job_id: int) -> Thumbnail | None:
        """The still kept by `keep_still`, if any."""

    async def record_poll(self, job_id: int, video: VideoJob) -> Job:
        """Keep the provider's answer; a terminal status finishes the job."""

    async def mark_expired(self, job_id: int, minutes: float) -> Job: ...

    async def mark_cancelled(self, job_id: int) -> Job: ...

    async def set_card_shown(self, job_id: int, shown: str) -> Job: ...

    async def set_progress_message(self, job_id: int, message_id: int) -> Job:
        """The job's progress message in its thread (its card is too old to edit often)."""

    async def queue_place(self, guild_id: int, job_id: int) -> int:
        """1 + this guild's jobs waiting at the provider made before `job_id`."""

    async def recent_durations(
        self, *, model: str, seconds: int, guild_id: int | None = None, limit: int = 20
    ) -> list[float]:
        """Submission-to-finish seconds of the last completed videos of a model and length."""

    async def claim_delivery(self, job_id: int, lease_seconds: float) -> Job | None:
        """Claim delivery for this process before anything is posted; None when another
        live process holds the claim (or the job was delivered meanwhile)."""

    async def renew_delivery(self, job_id: int, lease_seconds: float) -> bool:
        """Extend this process's claim while its delivery runs; False if it has lost it."""

    async def mark_delivered(
        self,
        job_id: int,
        *,
        message_id: int | None = None,
        error: str | None = None,
        state: JobState | None = None,
    ) -> Job:
        """The member was told; with `state`, only while the job is still in that state
        (the one whose outcome was posted)."""

    async def note_delivery_failure(self, job_id: int) -> Job: ...

    async def open_job_ids(self, shards: Shards | None = None) -> list[int]:
        """Ids of the jobs `open_jobs` returns, without loading them."""

    async def open_jobs(self, shards: Shards | None = None) -> list[Job]:
        """Jobs the tracker must watch (of `shards`' guilds): waiting on the provider, or
        finished but not told."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held by one process of the fleet at a time: PostgreSQL's advisory lock; in SQLite
        a per-name lock in this process, an SQLite file serving one process."""

    async def recent_jobs(
        self, *, guild_id: int, user_id: int | None = None, limit: int = 10, offset: int = 0
    ) -> list[Job]: ...

    async def count_jobs_by_state(self) -> dict[str, int]: ...

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def meta_keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix` whose value is not empty."""
        ...

    async def meta_setdefault(self, key: str, value: str) -> str:
        """`key`'s value, set to `value` first if it has none (atomic: one value wins)."""
