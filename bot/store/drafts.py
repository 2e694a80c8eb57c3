"""Drafts: the only SQL for drafts, on the store's database (`bot.store.db`)."""

from __future__ import annotations

import time
from typing import Any

from bot.drafts import MAX_DRAFT_SHOTS, Draft, DraftShot, DraftState
from bot.errors import StoryboardError
from bot.store.db import Database, Queries, Row
from bot.storyboard import StoryboardSettings
from bot.videos_api.models import ReferenceImage


class StaleEdit(StoryboardError):
    """The thing edited changed since the member looked at it."""

    def __init__(self, current: Draft, shot: DraftShot | None = None) -> None:
        if shot is not None:
            super().__init__(
                "draft.stale_shot",
                shot=current.number_of(shot.id),
                author=f"<@{shot.author_id}>",
                scene=shot.scene,
            )
        else:
            super().__init__("draft.stale_draft")
        self.current = current


# Shot changes apply only while their draft is open (a picker or modal can outlive it).
_WHILE_OPEN = " AND EXISTS (SELECT 1 FROM drafts WHERE id = ? AND state = 'open')"

_DRAFT_COLUMNS = (
    "id, guild_id, channel_id, thread_id, panel_message_id, owner_id, title, locale, settings, "
    "state, version, job_id, image_filename, created_at, updated_at"
)


class DraftStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Row]:
        return await self._db.fetch(sql, *args)

    async def create(
        self,
        *,
        guild_id: int,
        channel_id: int,
        owner_id: int,
        title: str,
        locale: str,
        settings: StoryboardSettings,
    ) -> Draft:
        now = time.time()
        draft_id = await self._db.fetchval(
            """INSERT INTO drafts (guild_id, channel_id, owner_id, title, locale, settings,
                   state, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?) RETURNING id""",
            guild_id,
            channel_id,
            owner_id,
            title,
            locale,
            settings.model_dump_json(),
            now,
            now,
        )
        return await self.get(int(draft_id))

    async def find(self, draft_id: int) -> Draft | None:
        rows = await self._rows(f"SELECT {_DRAFT_COLUMNS} FROM drafts WHERE id = ?", (draft_id,))
        if not rows:
            return None
        shots = await self._rows(
            "SELECT * FROM draft_shots WHERE draft_id = ? ORDER BY position, id", (draft_id,)
        )
        data = dict(rows[0])
        data["settings"] = StoryboardSettings.model_validate_json(data["settings"])
        data["shots"] = tuple(DraftShot.model_validate(dict(r)) for r in shots)
        return Draft.model_validate(data)

    async def get(self, draft_id: int) -> Draft:
        draft = await self.find(draft_id)
        if draft is None:
            raise StoryboardError("draft.not_found", draft=draft_id)
        return draft

    async def _change(self, sql: str, args: tuple[Any, ...], draft_id: int) -> int:
        """Run one UPDATE/DELETE and touch the draft, atomically; returns the rows changed."""
        async with self._db.transaction() as tx:
            await tx.lock(f"draft:{draft_id}")
            changed = await tx.execute(sql, *args)
            if changed:
                await _touch(tx, draft_id, time.time())
        return changed

    async def set_panel(self, draft_id: int, *, thread_id: int, panel_message_id: int) -> Draft:
        await self._change(
            "UPDATE drafts SET thread_id = ?, panel_message_id = ? WHERE id = ?",
            (thread_id, panel_message_id, draft_id),
            draft_id,
        )
        return await self.get(draft_id)

    async def add_shot(
        self, draft_id: int, *, scene: str, duration: int | None, author_id: int
    ) -> Draft:
        now = time.time()
        async with self._db.transaction() as tx:
            # Under the draft's lock: the shot goes in only while the draft is open and
            # not full, at the end, whoever else (in any process) is adding at that moment.
            await tx.lock(f"draft:{draft_id}")
            added = await tx.execute(
                """INSERT INTO draft_shots (draft_id, position, scene, duration, author_id,
                       created_at, updated_at)
                   SELECT d.id, COALESCE((SELECT MAX(position) FROM draft_shots WHERE draft_id = d.id), 0) + 1,
                          CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS BIGINT),
                          CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION)
                   FROM drafts d
                   WHERE d.id = ? AND d.state = 'open'
                     AND (SELECT COUNT(*) FROM draft_shots WHERE draft_id = d.id) < ?""",
                scene,
                duration,
                author_id,
                now,
                now,
                draft_id,
                MAX_DRAFT_SHOTS,
            )
            if added:
                await _touch(tx, draft_id, now)
        draft = await self.get(draft_id)
        if not added:
            if not draft.is_open:
                raise StoryboardError(f"draft.is_{draft.state}")
            raise StoryboardError("draft.full", max=MAX_DRAFT_SHOTS)
        return draft

    async def edit_shot(
        self, draft_id: int, shot_id: int, *, seen_version: int, scene: str, duration: int | None
    ) -> Draft:
        changed = await self._change(
            """UPDATE draft_shots SET scene = ?, duration = ?, version = version + 1, updated_at = ?
               WHERE id = ? AND draft_id = ? AND version = ?"""
            + _WHILE_OPEN,
            (scene, duration, time.time(), shot_id, draft_id, seen_version, draft_id),
            draft_id,
        )
        return await self._after(draft_id, shot_id, changed)

    async def remove_shot(self, draft_id: int, shot_id: int, *, seen_version: int) -> Draft:
        changed = await self._change(
            "DELETE FROM draft_shots WHERE id = ? AND draft_id = ? AND version = ?" + _WHILE_OPEN,
            (shot_id, draft_id, seen_version, draft_id),
            draft_id,
        )
        return await self._after(draft_id, shot_id, changed)

    async def _after(self, draft_id: int, shot_id: int, changed: int) -> Draft:
        draft = await self.get(draft_id)
        if changed:
            return draft
        if not draft.is_open:
            raise StoryboardError(f"draft.is_{draft.state}")
        current = next((s for s in draft.shots if s.id == shot_id), None)
        if current is None:
            raise StoryboardError("draft.shot_gone")
        raise StaleEdit(draft, current)

    async def move_shot(self, draft_id: int, shot_id: int, step: int) -> Draft:
        """Swap a shot with its neighbour above (-1) or below (+1)."""
        async with self._db.transaction() as tx:
            await tx.lock(f"draft:{draft_id}")
            state = await tx.fetchval("SELECT state FROM drafts WHERE id = ?", draft_id)
            if state is not None and state != "open":
                raise StoryboardError(f"draft.is_{state}")
            rows = await tx.fetch(
                "SELECT id, position FROM draft_shots WHERE draft_id = ? ORDER BY position, id",
                draft_id,
            )
            ids = [r["id"] for r in rows]
            if shot_id not in ids:
                raise StoryboardError("draft.shot_gone")
            here = ids.index(shot_id)
            there = here + step
            if 0 <= there < len(ids):
                a, b = rows[here], rows[there]
                now = time.time()
                await tx.execute(
                    "UPDATE draft_shots SET position = ?, updated_at = ? WHERE id = ?",
                    b["position"],
                    now,
                    a["id"],
                )
                await tx.execute(
                    "UPDATE draft_shots SET position = ?, updated_at = ? WHERE id = ?",
                    a["position"],
                    now,
                    b["id"],
                )
                await _touch(tx, draft_id, now)
        return await self.get(draft_id)

    async def update_settings(
        self, draft_id: int, *, seen_version: int, settings: StoryboardSettings
    ) -> Draft:
        changed = await self._change(
            """UPDATE drafts SET settings = ?, version = version + 1
               WHERE id = ? AND version = ? AND state = 'open'""",
            (settings.model_dump_json(), draft_id, seen_version),
            draft_id,
        )
        draft = await self.get(draft_id)
        if not changed:
            if not draft.is_open:
                raise StoryboardError(f"draft.is_{draft.state}")
            raise StaleEdit(draft)
        return draft

    async def set_image(self, draft_id: int, image: ReferenceImage) -> Draft:
        changed = await self._change(
            """UPDATE drafts SET image_filename = ?, image_type = ?, image_data = ?,
                   version = version + 1
               WHERE id = ? AND state = 'open'""",
            (image.filename, image.content_type, image.data, draft_id),
            draft_id,
        )
        draft = await self.get(draft_id)
        if not changed:
            raise StoryboardError(f"draft.is_{draft.state}")
        return draft

    async def image(self, draft_id: int) -> ReferenceImage | None:
        rows = await self._rows(
            "SELECT image_filename, image_type, image_data FROM drafts WHERE id = ?", (draft_id,)
        )
        if not rows or rows[0]["image_data"] is None:
            return None
        r = rows[0]
        return ReferenceImage(
            filename=r["image_filename"], content_type=r["image_type"], data=bytes(r["image_data"])
        )

    async def close(
        self,
        draft_id: int,
        state: DraftState,
        *,
        job_id: int | None = None,
        only_if_open: bool = True,
    ) -> bool:
        """Lock a draft as submitted, discarded or archived; False if it was not open."""
        guard = " AND state = 'open'" if only_if_open else ""
        changed = await self._change(
            f"UPDATE drafts SET state = ?, job_id = COALESCE(?, job_id), version = version + 1 WHERE id = ?{guard}",
            (state, job_id, draft_id),
            draft_id,
        )
        return changed > 0

    async def reopen(self, draft_id: int) -> None:
        """A submission that did not go through leaves the draft open for another try."""
        await self._change(
            "UPDATE drafts SET state = 'open', version = version + 1 WHERE id = ? AND state = 'submitted'",
            (draft_id,),
            draft_id,
        )

    async def open_for_member(self, guild_id: int, user_id: int, limit: int = 25) -> list[Draft]:
        rows = await self._rows(
            """SELECT d.id FROM drafts d
               WHERE d.guild_id = ? AND d.state = 'open' AND (d.owner_id = ? OR EXISTS
                   (SELECT 1 FROM draft_shots s WHERE s.draft_id = d.id AND s.author_id = ?))
               ORDER BY d.updated_at DESC LIMIT ?""",
            (guild_id, user_id, user_id, limit),
        )
        return [await self.get(r["id"]) for r in rows]

    async def untouched_since(self, cutoff: float) -> list[Draft]:
        rows = await self._rows(
            "SELECT id FROM drafts WHERE state = 'open' AND updated_at < ? ORDER BY id", (cutoff,)
        )
        return [await self.get(r["id"]) for r in rows]

    async def stash_image(self, user_id: int, image: ReferenceImage) -> int:
        # Old stashes are of no use: a member picks a target within minutes.
        await self._db.execute("DELETE FROM image_stash WHERE created_at < ?", time.time() - 86400)
        stash_id = await self._db.fetchval(
            "INSERT INTO image_stash (user_id, filename, content_type, data, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            user_id,
            image.filename,
            image.content_type,
            image.data,
            time.time(),
        )
        return int(stash_id)

    async def stashed_image(self, stash_id: int, user_id: int) -> ReferenceImage | None:
        rows = await self._rows(
            "SELECT filename, content_type, data FROM image_stash WHERE id = ? AND user_id = ?",
            (stash_id, user_id),
        )
        if not rows:
            return None
        r = rows[0]
        return ReferenceImage(
            filename=r["filename"], content_type=r["content_type"], data=bytes(r["data"])
        )


async def _touch(tx: Queries, draft_id: int, now: float) -> None:
    await tx.execute("UPDATE drafts SET updated_at = ? WHERE id = ?", now, draft_id)
