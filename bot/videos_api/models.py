"""The provider's JSON and the create form, as pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.profiles import ProviderProfile
from bot.storyboard import ValidStoryboard
from bot.videos_api.errors import NotSupported

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

# What relays say, mapped to the five statuses the bot reasons about. new-api
# maps upstream values this way (relay/channel/task/sora/adaptor.go); relays
# that pass upstream values through send `succeeded`, `expired`, ... as they are.
_STATUS_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        (
            "queued",
            "pending",
            "submitted",
            "not_start",
            "preparing",
            "unknown",
            "created",
            "starting",
        ),
        "queued",
    ),
    **dict.fromkeys(("processing", "in_progress", "running", "generating"), "in_progress"),
    **dict.fromkeys(("completed", "complete", "success", "succeeded", "finished"), "completed"),
    **dict.fromkeys(("failed", "failure", "fail", "error", "expired"), "failed"),
    **dict.fromkeys(("cancelled", "canceled"), "cancelled"),
}


def normalize_status(raw: str) -> tuple[str, bool]:
    """The canonical status for a provider's word, and whether the word was known.

    An unknown word reads as `in_progress`: the job keeps being polled (and ends
    by the tracker's own deadline) rather than being declared done or failed on
    a guess.
    """
    status = _STATUS_SYNONYMS.get(raw.strip().lower())
    return (status, True) if status is not None else ("in_progress", False)


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """new-api sometimes answers `{"code": ..., "data": {video}}`: the video is inside."""
    if any(k in data for k in ("id", "task_id", "status")):
        return data
    inner = data.get("data")
    if isinstance(inner, dict) and ("id" in inner or "task_id" in inner) and "status" in inner:
        return inner
    return data


class VideoError(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    code: str | None = None
    message: str | None = None


class VideoJob(BaseModel):
    """A video object as the provider describes it; unknown fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    object: str = "video"
    model: str | None = None
    # One of queued, in_progress, completed, failed, cancelled (see `normalize_status`);
    # the provider's own word is kept in `raw_status`.
    status: str
    raw_status: str | None = None
    status_known: bool = True
    progress: int = 0
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    seconds: str | None = None
    size: str | None = None
    error: VideoError | None = None
    remixed_from_video_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        """Accept the shapes relays answer with: `task_id` for `id`, a `data` wrapper,
        and any status word (normalized; the original kept)."""
        if not isinstance(data, dict):
            return data
        data = dict(_unwrap(data))
        if data.get("id") is None and data.get("task_id") is not None:
            data["id"] = data["task_id"]
        # A stored answer already carries `raw_status`: normalize from it again, so
        # validating a dumped job gives the same job.
        raw = data.get("raw_status")
        if not isinstance(raw, str):
            raw = data.get("status")
        if isinstance(raw, str):
            data["status"], data["status_known"] = normalize_status(raw)
            data["raw_status"] = raw
        return data

    @field_validator("progress", mode="before")
    @classmethod
    def _progress(cls, value: Any) -> Any:
        if value is None:
            return 0
        if isinstance(value, float | str):
            try:
                return max(0, min(100, round(float(value))))
            except ValueError:
                return 0
        return value

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("error", mode="before")
    @classmethod
    def _error(cls, value: Any) -> Any:
        # Some relays send the reason as a bare string.
        if isinstance(value, str):
            return {"message": value} if value else None
        return value

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class ReferenceImage(BaseModel):
    """An image already checked to be what it claims (see `bot.images`)."""

    model_config = ConfigDict(frozen=True)

    filename: str
    content_type: str
    data: bytes = Field(repr=False)


def _flag(value: bool) -> str:
    # Multipart values are text; the contract's booleans read "true"/"false".
    return "true" if value else "false"


class CreateVideoRequest(BaseModel):
    """Everything `POST /videos` can carry. None means "not sent"."""

    model_config = ConfigDict(frozen=True)

    model: str
    prompt: str
    seconds: int | None = None
    size: str | None = None
    input_reference: ReferenceImage | None = None
    watermark: bool | None = None
    private: bool | None = None
    character_url: str | None = None
    character_timestamps: str | None = None
    metadata: str | None = None
    character_from_task: str | None = None
    character_create: bool | None = None

    @classmethod
    def from_storyboard(
        cls,
        board: ValidStoryboard,
        profile: ProviderProfile,
        *,
        image: ReferenceImage | None = None,
        metadata: str | None = None,
    ) -> CreateVideoRequest:
        """The request for a validated storyboard, with only the fields `profile` has."""
        settings = board.settings
        relay_only: dict[str, Any] = {
            "watermark": settings.watermark,
            "private": settings.private,
            "character_create": settings.character_create or None,
            "metadata": metadata,
        }
        return cls(
            model=settings.model,
            prompt=board.prompt,
            seconds=settings.seconds,
            size=board.size,
            input_reference=image,
            **{k: v for k, v in relay_only.items() if profile.allows(k)},
        )

    def form_fields(self, profile: ProviderProfile) -> list[tuple[str, str]]:
        """The text fields, in the contract's order; the image is added by the client."""
        fields: list[tuple[str, str]] = []
        for name, value in self:
            if value is None or name == "input_reference":
                continue
            if not profile.allows(name):
                raise NotSupported(name, profile.name)
            fields.append((name, _flag(value) if isinstance(value, bool) else str(value)))
        if self.input_reference is not None and not profile.allows("input_reference"):
            raise NotSupported("input_reference", profile.name)
        return fields
