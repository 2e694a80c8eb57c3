"""What the store holds, as the rest of the bot sees it: jobs and their states."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.characters import CharacterSource
from bot.storyboard import ValidStoryboard
from bot.videos_api.models import ReferenceImage

JobState = Literal[
    "pending", "active", "completed", "failed", "submit_failed", "uncertain", "expired", "cancelled"
]
# Jobs the tracker must look at: waiting on the provider; a lost create or an expired job
# still being looked for; or an outcome the member has not been told.
OPEN_JOBS = (
    "state IN ('pending', 'active')"
    " OR (state IN ('uncertain', 'expired') AND resolution IS NULL)"
    " OR (state IN ('completed', 'failed', 'expired', 'uncertain') AND delivered_at IS NULL)"
)
# What counts against a quota (per-user jobs, per-guild seconds, the cooldown) and in the
# admin view's usage: a job that may have cost money. Pending (its create may be under
# way), active, uncertain (the provider may have made and charged it), completed and
# expired (the provider had it) count. A create the provider refused (submit_failed),
# a job the provider failed (failed) and one cancelled while still queued (cancelled) do
# not: the member may try again. The one definition, used by every usage query.
COUNTED_STATES: tuple[JobState, ...] = ("pending", "active", "uncertain", "completed", "expired")
COUNTED = f"state IN ({', '.join(repr(s) for s in COUNTED_STATES)})"
# Why the tracker stopped looking for an uncertain or expired job.
Resolution = Literal["unlistable", "not_found", "gave_up"]


class DuplicateRequest(Exception):
    """This request key already made a job."""

    def __init__(self, job_id: int) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class NewJob(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_key: str
    guild_id: int | None
    channel_id: int
    user_id: int
    # The requester's language, and the server's: what everyone reads (card, thread,
    # delivery) is in `public_locale` (`bot.i18n.public_locale`).
    locale: str
    public_locale: str
    storyboard: ValidStoryboard
    image: ReferenceImage | None = None
    filesize_limit: int
    character: CharacterSource | None = None
    # Which key made the job (a digest): polls keep using that key after a rotation.
    key_fingerprint: str | None = None


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    request_key: str
    guild_id: int | None
    channel_id: int
    user_id: int
    locale: str
    # The language of what everyone in the server reads about this job; fixed at submit.
    public_locale: str
    storyboard: ValidStoryboard
    image_name: str | None
    filesize_limit: int
    state: JobState
    task_id: str | None
    provider_status: str | None
    progress: int
    provider_answer: dict[str, Any] | None
    error_key: str | None
    error_fields: dict[str, Any]
    card_channel_id: int | None
    card_message_id: int | None
    thread_id: int | None
    card_shown: str | None
    seconds: int = 0
    kind: Literal["video", "character"] = "video"
    character: CharacterSource | None = None
    created_at: float
    updated_at: float
    submitted_at: float | None
    finished_at: float | None
    delivered_at: float | None
    key_fingerprint: str | None = None
    looks: int = 0
    lost_since: float | None = None
    resolution: Resolution | None = None
    delivery_claimed_at: float | None = None
    delivery_message_id: int | None = None
    delivery_failures: int = 0
    delivery_failing_since: float | None = None
    delivery_error: str | None = None
    # Who is delivering it (one process's run) and until when that claim holds.
    delivery_owner: str | None = None
    delivery_lease_until: float | None = None
    # While `pending`: the process sending its create and until when that holds
    # (`Store.renew_send`); another process leaves the job alone until then.
    send_owner: str | None = None
    send_lease_until: float | None = None
    started_at: float | None = None
    # The job's progress message in its thread, used once the card is too old to edit.
    progress_message_id: int | None = None
