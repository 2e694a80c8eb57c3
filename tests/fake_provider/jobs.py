"""Fake video jobs that move along a fake clock."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fake_provider.records import RecordedFile

Dialect = Literal["relay", "openai"]
VideoStatus = Literal["queued", "in_progress", "completed", "failed"]
Outcome = Literal["complete", "fail"]
DEFAULT_FAIL_CODE = "video_generation_failed"
DEFAULT_FAIL_MESSAGE = "Video generation failed."
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def make_job_id(dialect: Dialect, now: float, serial: int, prefix: str | None) -> str:
    """A deterministic id shaped like the provider's.

    relay: `sora-2:task_` + a 26-character lowercase ULID (time, then noise);
    openai: `video_` + 32 hex digits.
    """
    noise = hashlib.blake2b(f"fake-provider/{serial}".encode(), digest_size=16).digest()
    if dialect == "openai":
        return (prefix or "video_") + noise.hex()
    stamp = _base32(int(now * 1000) & (2**48 - 1), 10)
    return (prefix or "sora-2:task_") + stamp + _base32(int.from_bytes(noise[:10]), 16)


@dataclass
class FakeJob:
    """A video job. Its status follows the fake clock unless a test pins it.

    Timeline from `created_at` (fake-clock seconds): queued for
    `queue_seconds`, then in_progress for `run_seconds` with progress rising
    from 0 to 99, then `completed` or `failed` as `outcome` says. Assigning
    `job.status` (or `job.progress`) pins that value; assigning None returns
    the job to its timeline. A pinned status may be any word (`succeeded`,
    `expired`, ...): it is served as it is, and the job is then neither
    completed nor failed for the provider's own rules (content, remix).

    `status_names` maps canonical statuses to this relay's words in what is
    served; `task_id_only` serves `task_id` instead of `id`; until
    `visible_at` (fake clock) the job is unknown to retrieve and list (a relay
    that registers tasks late); `content_expired` makes the content route 404.
    """

    id: str
    dialect: Dialect
    model: str
    prompt: str
    seconds: str
    size: str
    created_at: float
    queue_seconds: float
    run_seconds: float
    expires_seconds: float | None
    clock: Callable[[], float] = field(repr=False)
    key: str | None = field(default=None, repr=False)
    fields: dict[str, str] = field(default_factory=dict, repr=False)
    files: dict[str, RecordedFile] = field(default_factory=dict, repr=False)
    remixed_from_video_id: str | None = None
    outcome: Outcome = "complete"
    error_code: str = DEFAULT_FAIL_CODE
    error_message: str = DEFAULT_FAIL_MESSAGE
    deleted: bool = False
    status_names: Mapping[str, str] = field(default_factory=dict, repr=False)
    task_id_only: bool = False
    visible_at: float | None = None
    content_expired: bool = False
    _pinned_status: str | None = field(default=None, repr=False)
    _pinned_progress: int | None = field(default=None, repr=False)
    _pinned_at: float | None = field(default=None, repr=False)

    @property
    def metadata(self) -> str | None:
        """The `metadata` form field the job was created with."""
        return self.fields.get("metadata")

    @property
    def private(self) -> bool:
        return self.fields.get("private") == "true"

    @property
    def _finishes_at(self) -> float:
        return self.created_at + self.queue_seconds + self.run_seconds

    def _timeline(self) -> tuple[VideoStatus, int]:
        elapsed = self.clock() - self.created_at
        if elapsed < self.queue_seconds:
            return "queued", 0
        if elapsed < self.queue_seconds + self.run_seconds:
            return "in_progress", min(
                99, int((elapsed - self.queue_seconds) * 100 / self.run_seconds)
            )
        return ("completed" if self.outcome == "complete" else "failed"), 100

    @property
    def visible(self) -> bool:
        """False while the relay has not registered the job yet (see `visible_at`)."""
        return self.visible_at is None or self.clock() >= self.visible_at

    @property
    def status(self) -> str:
        return self._pinned_status or self._timeline()[0]

    @status.setter
    def status(self, value: str | None) -> None:
        self._pinned_status = value
        self._pinned_at = self.clock() if value is not None else None

    @property
    def progress(self) -> int:
        if self._pinned_progress is not None:
            return self._pinned_progress
        if self.status in ("completed", "queued"):
            return 100 if self.status == "completed" else 0
        # in_progress or failed: how far the timeline got, short of 100.
        return min(self._timeline()[1], 99)

    @progress.setter
    def progress(self, value: int | None) -> None:
        self._pinned_progress = value

    @property
    def completed_at(self) -> float | None:
        """When the job reached a final status (fake-clock seconds), else None."""
        if self.status not in ("completed", "failed"):
            return None
        if self._pinned_status is not None and self._pinned_at is not None:
            return self._pinned_at
        return self._finishes_at

    @property
    def expires_at(self) -> float | None:
        finished = self.completed_at
        if self.status != "completed" or finished is None or self.expires_seconds is None:
            return None
        return finished + self.expires_seconds

    @property
    def expired(self) -> bool:
        if self.content_expired:
            return True
        expires = self.expires_at
        return expires is not None and self.clock() >= expires

    def to_object(self, *, as_created: bool = False) -> dict[str, Any]:
        """The video object the provider returns; `as_created` gives the create answer."""
        status = "queued" if as_created else self.status
        progress = 0 if as_created else self.progress
        completed = None if as_created else self.completed_at
        expires = None if as_created else self.expires_at
        error = (
            {"code": self.error_code, "message": self.error_message} if status == "failed" else None
        )
        shown = self.status_names.get(status, status)
        id_key = "task_id" if self.task_id_only else "id"
        if self.dialect == "openai":
            return {
                id_key: self.id,
                "object": "video",
                "model": self.model,
                "status": shown,
                "progress": progress,
                "created_at": int(self.created_at),
                "completed_at": None if completed is None else int(completed),
                "expires_at": None if expires is None else int(expires),
                "error": error,
                "remixed_from_video_id": self.remixed_from_video_id,
                "seconds": self.seconds,
                "size": self.size,
                "prompt": self.prompt,
            }
        # Relays built on new-api omit empty fields and send milliseconds.
        video: dict[str, Any] = {
            id_key: self.id,
            "object": "video",
            "model": self.model,
            "status": shown,
            "progress": progress,
            "created_at": int(self.created_at * 1000),
            "seconds": self.seconds,
            "size": self.size,
        }
        optional = {
            "completed_at": None if completed is None else int(completed * 1000),
            "expires_at": None if expires is None else int(expires * 1000),
            "remixed_from_video_id": self.remixed_from_video_id,
            "error": error,
            # Echoed so a client can find its own job again after a crash mid-submit.
            "metadata": self.metadata,
        }
        video.update({k: v for k, v in optional.items() if v is not None})
        return video
