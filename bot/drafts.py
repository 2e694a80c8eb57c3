"""Collaborative drafts: the model, who may do what, and turning a draft into a job.

Every change is a small store operation checked against the version the member
saw: shots carry their own version, so two members adding or editing different
shots never collide, and an edit against a shot that changed since is refused
with the current text shown instead of overwriting someone's work.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.config import GuildSettings
from bot.errors import StoryboardError
from bot.storyboard import Shot, Storyboard, StoryboardSettings, fill_durations

DraftState = Literal["open", "submitted", "discarded", "archived"]
MAX_DRAFT_SHOTS = 10
MAX_TITLE_CHARS = 90


class DraftShot(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    draft_id: int
    position: float
    scene: str
    duration: int | None
    author_id: int
    version: int

    def as_shot(self) -> Shot:
        return Shot(scene=self.scene, duration=self.duration, author_id=self.author_id)


class Draft(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    guild_id: int
    channel_id: int
    thread_id: int | None
    panel_message_id: int | None
    owner_id: int
    title: str
    # The panel's language: the server's when the draft was started (`bot.i18n.public_locale`).
    locale: str
    settings: StoryboardSettings
    state: DraftState
    version: int
    job_id: int | None
    image_filename: str | None
    created_at: float
    updated_at: float
    shots: tuple[DraftShot, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def storyboard(self) -> Storyboard:
        return Storyboard(shots=tuple(s.as_shot() for s in self.shots), settings=self.settings)

    def shot(self, shot_id: int) -> DraftShot:
        for shot in self.shots:
            if shot.id == shot_id:
                return shot
        raise StoryboardError("draft.shot_gone")

    def number_of(self, shot_id: int) -> int:
        return next(n for n, s in enumerate(self.shots, start=1) if s.id == shot_id)

    def timing_problem(self) -> StoryboardError | None:
        """Why the shots can't fill `seconds` as they stand, for the panel to show."""
        if not self.shots:
            return None
        try:
            fill_durations([s.as_shot() for s in self.shots], self.settings.seconds)
        except StoryboardError as problem:
            return problem
        return None

    def planned_durations(self) -> list[int | None]:
        """Each shot's length if submitted now (shared-out lengths filled in), or as given."""
        try:
            filled = fill_durations([s.as_shot() for s in self.shots], self.settings.seconds)
        except StoryboardError:
            return [s.duration for s in self.shots]
        return [s.duration for s in filled]


class Actor(BaseModel):
    """The member acting, as the Discord side sees them."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    role_ids: frozenset[int] = frozenset()
    manage_messages: bool = False


def _has_role(actor: Actor, roles: Collection[int]) -> bool:
    return bool(actor.role_ids & set(roles))


def may_edit_shot(draft: Draft, shot: DraftShot, actor: Actor, guild: GuildSettings) -> bool:
    return (
        shot.author_id == actor.user_id
        or draft.owner_id == actor.user_id
        or _has_role(actor, guild.draft_editor_roles)
    )


def may_manage(draft: Draft, actor: Actor, guild: GuildSettings) -> bool:
    """Submit, discard, change settings or the image."""
    return draft.owner_id == actor.user_id or _has_role(actor, guild.draft_submit_roles)


def require_open(draft: Draft) -> None:
    if not draft.is_open:
        raise StoryboardError(f"draft.is_{draft.state}")


def require_shot_editor(draft: Draft, shot: DraftShot, actor: Actor, guild: GuildSettings) -> None:
    require_open(draft)
    if not may_edit_shot(draft, shot, actor, guild):
        raise StoryboardError(
            "draft.not_your_shot", shot=draft.number_of(shot.id), author=f"<@{shot.author_id}>"
        )


def require_manager(draft: Draft, actor: Actor, guild: GuildSettings) -> None:
    if not may_manage(draft, actor, guild):
        raise StoryboardError("draft.owner_only", owner=f"<@{draft.owner_id}>")


def clean_title(title: str) -> str:
    cleaned = " ".join(title.split())[:MAX_TITLE_CHARS]
    if not cleaned:
        raise StoryboardError("draft.empty_title")
    return cleaned
