"""Draft previews (animatics): the only SQL for them, on the store's database.

One row per draft: when the last render started (the rate limit), the render under way,
and the last posted preview. In the database, not in memory, so the limit holds across a
restart and across every process of a fleet, and a press on an unchanged draft links to
the preview another process posted.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.store.db import Database, Row


class PreviewShown(BaseModel):
    """The last preview posted for this exact draft content: link to it, render nothing."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["shown"] = "shown"
    channel_id: int
    message_id: int


class PreviewWait(BaseModel):
    """Too soon after the last render: the next may start at `until`. `rendering` is set
    when a render of this same content is under way (a double click)."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["wait"] = "wait"
    until: float
    rendering: bool


class PreviewClaimed(BaseModel):
    """This caller renders now; `previous` is the last start, given back on a failure."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["claimed"] = "claimed"
    started_at: float
    previous: float | None


PreviewClaim = PreviewShown | PreviewWait | PreviewClaimed


class PreviewStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, draft_id: int, key: str, *, now: float, every: float) -> PreviewClaim:
        """Decide, atomically across processes, what a Preview press does: link to the
        preview of this same `key`, wait (a render started less than `every` s ago), or
        render (the row now says a render of `key` started at `now`)."""
        async with self._db.transaction() as tx:
            await tx.lock(f"draft-preview:{draft_id}")
            row = await tx.fetchrow("SELECT * FROM draft_previews WHERE draft_id = ?", draft_id)
            if row is not None:
                shown = _shown(row)
                if shown is not None and row["shown_key"] == key:
                    return shown
                until = float(row["started_at"]) + every
                if now < until:
                    return PreviewWait(until=until, rendering=row["rendering_key"] == key)
            await tx.execute(
                """INSERT INTO draft_previews (draft_id, started_at, rendering_key)
                   VALUES (?, ?, ?)
                   ON CONFLICT (draft_id) DO UPDATE
                   SET started_at = excluded.started_at, rendering_key = excluded.rendering_key""",
                draft_id,
                now,
                key,
            )
        previous = None if row is None else float(row["started_at"])
        return PreviewClaimed(started_at=now, previous=previous)

    async def posted(
        self, draft_id: int, key: str, *, started_at: float, channel_id: int, message_id: int
    ) -> None:
        """The render of `key` started at `started_at` is posted: later presses link to it."""
        await self._db.execute(
            """UPDATE draft_previews
               SET shown_key = ?, channel_id = ?, message_id = ?,
                   rendering_key = CASE WHEN started_at = ? THEN NULL ELSE rendering_key END
               WHERE draft_id = ?""",
            key,
            channel_id,
            message_id,
            started_at,
            draft_id,
        )

    async def failed(self, draft_id: int, claim: PreviewClaimed) -> None:
        """The render did not post: the limit goes back to the start before it, so the
        member may try again at once (unless another render started meanwhile)."""
        if claim.previous is None:
            await self._db.execute(
                "DELETE FROM draft_previews WHERE draft_id = ? AND started_at = ?"
                " AND shown_key IS NULL",
                draft_id,
                claim.started_at,
            )
        await self._db.execute(
            "UPDATE draft_previews SET started_at = ?, rendering_key = NULL"
            " WHERE draft_id = ? AND started_at = ?",
            claim.previous if claim.previous is not None else 0.0,
            draft_id,
            claim.started_at,
        )


def _shown(row: Row) -> PreviewShown | None:
    if row["message_id"] is None or row["channel_id"] is None:
        return None
    return PreviewShown(channel_id=int(row["channel_id"]), message_id=int(row["message_id"]))
