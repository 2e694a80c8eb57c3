"""The one place job state lives: SQLite through one aiosqlite connection.

Migrations are numbered files in `bot/migrations/`, applied in order at start;
`PRAGMA user_version` holds the last one applied. Methods take and return
pydantic models; no SQL lives anywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.access import QuotaRule, Usage, check_quota
from bot.characters import CharacterSource
from bot.draft_store import DraftStore
from bot.echo_store import EchoStore
from bot.moderation import failure_key
from bot.shards import Shards
from bot.storyboard import ValidStoryboard
from bot.thumbnails import Thumbnail
from bot.videos_api.models import ReferenceImage, VideoJob

log = logging.getLogger(__name__)

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
# The locks of `Store.exclusive`, by database file and name: shared by every Store of one
# file in this process (a test runs two bots, standing for two processes, in one).
_EXCLUSIVE: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)


# How long a write keeps trying to begin while the database is busy (beyond busy_timeout's
# own wait): another process writing, or a read of ours still open on the connection.
WRITE_BEGIN_SECONDS = 10.0


class _WriteLock(asyncio.Lock):
    """The store's write lock, which is also the write's transaction: `BEGIN IMMEDIATE` on
    entry, committed on a normal exit, rolled back when the body raises.

    Several processes share one SQLite file (docs/scaling.md, Step 1): with SQLite's own
    deferred transactions, a write that starts while a read of another task of ours is
    still open on the connection fails at once with "database is locked" (busy_timeout
    does not wait then), and the failed write left the connection in a transaction on an
    old snapshot, so every later write failed the same way, for good. IMMEDIATE takes the
    file's write lock first (tried again while busy), so a count and its insert are one
    transaction across processes, and a failed write is rolled back."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        super().__init__()
        self._db = db

    async def __aenter__(self) -> None:
        await self.acquire()
        try:
            await self._begin()
        except BaseException:
            self.release()
            raise

    async def _begin(self) -> None:
        if self._db.in_transaction:
            return
        deadline = time.monotonic() + WRITE_BEGIN_SECONDS
        pause = 0.005
        while True:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if self._db.in_transaction:
                if exc_type is None:
                    try:
                        await self._db.commit()
                    except BaseException:
                        await self._db.rollback()
                        raise
                else:
                    await self._db.rollback()
        finally:
            self.release()


def _open_where(shards: Shards | None) -> tuple[str, list[int]]:
    """`OPEN_JOBS`; with `shards`, of their guilds only (a DM job's is shard 0). 64-bit
    integer arithmetic, the same in SQLite and PostgreSQL."""
    if shards is None:
        return OPEN_JOBS, []
    marks = ", ".join("?" * len(shards.ids))
    where = f"({OPEN_JOBS}) AND (COALESCE(guild_id, 0) >> 22) % ? IN ({marks})"
    return where, [shards.count, *shards.ids]


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
    started_at: float | None = None
    # The job's progress message in its thread, used once the card is too old to edit.
    progress_message_id: int | None = None


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _job_from_row(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["storyboard"] = ValidStoryboard.model_validate_json(data["storyboard"])
    data["provider_answer"] = (
        json.loads(data["provider_answer"]) if data["provider_answer"] else None
    )
    data["error_fields"] = json.loads(data["error_fields"]) if data["error_fields"] else {}
    raw = data.get("character")
    data["character"] = CharacterSource.model_validate_json(raw) if raw else None
    return Job.model_validate(data)


class Store:
    """Open with `await Store.open(path)`; close with `await store.close()`."""

    def __init__(self, db: aiosqlite.Connection, path: Path | None = None) -> None:
        self._db = db
        self._file = str(path.resolve()) if path is not None else f"connection {id(db)}"
        # One connection serves every task: a write (and its commit or rollback)
        # must not interleave with another task's.
        self._write = _WriteLock(db)
        self.drafts = DraftStore(db, self._write)
        self.echoes = EchoStore(db, self._write)

    @classmethod
    async def open(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        try:
            db.row_factory = sqlite3.Row
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=5000")
            store = cls(db, path)
            await store._migrate()
        except BaseException:
            # aiosqlite's thread is not a daemon: left open, the process could never exit.
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for number, sql in _migrations():
            if number <= current:
                continue
            log.info("applying migration %04d", number)
            await self._db.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")

    async def ping(self) -> None:
        """Proves the database answers and is writable."""
        await self.set_meta("ping", str(time.time()))

    # Jobs

    async def create_job(self, new: NewJob, quota: QuotaRule | None = None) -> Job:
        """Store a job in state `pending`; raises `DuplicateRequest` for a known request key.

        With `quota`, the count and the insert happen under one lock, so two
        submissions at the same moment can't both slip under a limit.
        """
        now = time.time()
        async with self._write:
            # A known key first: a second submit of a form that already made its job is
            # "already submitted", never a quota refusal (whose Fix would pay again).
            known = await self.job_by_request_key(new.request_key)
            if known is not None:
                raise DuplicateRequest(known.id)
            if quota is not None and quota.limits_anything:
                usage = await self.usage_now(new.guild_id, new.user_id, quota.day_start(now))
                seconds = 0 if new.character else new.storyboard.settings.seconds
                check_quota(quota, usage, seconds=seconds, now=now)
            job_id = await self._insert_job(new, now)
        return await self.job(job_id)

    async def usage_now(self, guild_id: int | None, user_id: int, since: float) -> Usage:
        """Jobs that count (`COUNTED`) since `since`; the last one starts the cooldown."""
        counted = COUNTED
        async with self._db.execute(
            f"""SELECT
                  (SELECT COUNT(*) FROM jobs WHERE guild_id IS ? AND user_id = ? AND created_at >= ? AND {counted}),
                  (SELECT COALESCE(SUM(seconds), 0) FROM jobs WHERE guild_id IS ? AND created_at >= ? AND {counted}),
                  (SELECT MAX(created_at) FROM jobs WHERE guild_id IS ? AND user_id = ? AND {counted})""",
            (guild_id, user_id, since, guild_id, since, guild_id, user_id),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return Usage(user_jobs_today=row[0], guild_seconds_today=row[1], user_last_job_at=row[2])

    async def usage_by_member(self, guild_id: int, since: float) -> list[tuple[int, int, int]]:
        """(user id, jobs, video seconds) since `since`, busiest first; only jobs that count
        (`COUNTED`, as for quotas), so the admin view agrees with `/video quota`."""
        async with self._db.execute(
            f"""SELECT user_id, COUNT(*), COALESCE(SUM(seconds), 0) FROM jobs
               WHERE guild_id = ? AND created_at >= ? AND {COUNTED}
               GROUP BY user_id ORDER BY 3 DESC, 2 DESC""",
            (guild_id, since),
        ) as cur:
            rows = await cur.fetchall()
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def undelivered_of(self, guild_id: int, prefix: str, since: float) -> list[Job]:
        """A guild's jobs closed since `since` whose delivery error starts with `prefix`,
        newest first (at most 10): what no channel of theirs would take."""
        async with self._db.execute(
            "SELECT * FROM jobs WHERE guild_id = ? AND delivered_at >= ?"
            " AND substr(delivery_error, 1, ?) = ? ORDER BY id DESC LIMIT 10",
            (guild_id, since, len(prefix), prefix),
        ) as cur:
            rows = await cur.fetchall()
        return [_job_from_row(r) for r in rows]

    async def open_jobs_of(self, guild_id: int) -> list[Job]:
        async with self._db.execute(
            "SELECT * FROM jobs WHERE guild_id = ? AND (state IN ('pending', 'active')"
            " OR (state IN ('uncertain', 'expired') AND resolution IS NULL)) ORDER BY id",
            (guild_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [_job_from_row(r) for r in rows]

    async def _insert_job(self, new: NewJob, now: float) -> int:
        try:
            async with self._db.execute(
                """INSERT INTO jobs (request_key, guild_id, channel_id, user_id, locale,
                       public_locale, storyboard, image_name, filesize_limit, state, created_at,
                       updated_at, seconds, kind, character, key_fingerprint, model)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)""",
                (
                    new.request_key,
                    new.guild_id,
                    new.channel_id,
                    new.user_id,
                    new.locale,
                    new.public_locale,
                    new.storyboard.model_dump_json(),
                    new.image.filename if new.image else None,
                    new.filesize_limit,
                    now,
                    now,
                    0 if new.character else new.storyboard.settings.seconds,
                    "character" if new.character else "video",
                    new.character.model_dump_json() if new.character else None,
                    new.key_fingerprint,
                    new.storyboard.settings.model,
                ),
            ) as cur:
                job_id = cur.lastrowid
            if new.image is not None:
                await self._db.execute(
                    "INSERT INTO job_images (job_id, filename, content_type, data) VALUES (?, ?, ?, ?)",
                    (job_id, new.image.filename, new.image.content_type, new.image.data),
                )
            await self._db.commit()
        except sqlite3.IntegrityError:
            await self._db.rollback()
            existing = await self.job_by_request_key(new.request_key)
            if existing is None:
                raise
            raise DuplicateRequest(existing.id) from None
        assert job_id is not None
        return job_id

    async def _update(
        self, job_id: int, *, only_in: tuple[JobState, ...] = (), **fields: Any
    ) -> Job:
        """Change a job's fields; with `only_in`, only while it is in one of those states."""
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        guard = f" AND state IN ({', '.join('?' * len(only_in))})" if only_in else ""
        # Under the write lock: a rollback elsewhere (a duplicate request key) must not
        # take this write with it.
        async with self._write:
            await self._db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?{guard}",
                (*fields.values(), job_id, *only_in),
            )
            await self._db.commit()
        return await self.job(job_id)

    async def mark_submitted(self, job_id: int, video: VideoJob) -> Job:
        """The provider has the job (its create answered, or a lookup found it)."""
        return await self._update(
            job_id,
            only_in=("pending", "uncertain"),
            state="active",
            task_id=video.id,
            provider_status=video.status,
            progress=video.progress,
            provider_answer=video.model_dump_json(),
            submitted_at=time.time(),
            looks=0,
            resolution=None,
            error_key=None,
            error_fields=None,
        )

    async def mark_submit_failed(self, job_id: int, error_key: str, fields: dict[str, Any]) -> Job:
        # Only from `pending`: a refusal answers the create that left; it must never
        # overwrite a job the tracker has meanwhile found or finished.
        return await self._update(
            job_id,
            only_in=("pending",),
            state="submit_failed",
            error_key=error_key,
            error_fields=json.dumps(fields, default=str),
            finished_at=time.time(),
        )

    async def mark_uncertain(
        self, job_id: int, detail: str, resolution: Resolution | None = None
    ) -> Job:
        return await self._update(
            job_id,
            only_in=("pending", "uncertain"),
            state="uncertain",
            error_key="provider.submission_unknown",
            error_fields=json.dumps({"detail": detail}),
            resolution=resolution,
        )

    async def set_resolution(self, job_id: int, resolution: Resolution) -> Job:
        """Stop looking for an uncertain or expired job; the member is told why."""
        return await self._update(
            job_id, only_in=("uncertain", "expired"), resolution=resolution, finished_at=time.time()
        )

    async def note_look(self, job_id: int, *, lost: bool = False) -> Job:
        """One more look that found nothing (with `lost`, a 404 on a known task)."""
        now = time.time()
        async with self._write:
            await self._db.execute(
                "UPDATE jobs SET looks = looks + 1, updated_at = ?,"
                " lost_since = CASE WHEN ? THEN COALESCE(lost_since, ?) ELSE lost_since END"
                " WHERE id = ?",
                (now, lost, now, job_id),
            )
            await self._db.commit()
        return await self.job(job_id)

    async def mark_lost(self, job_id: int, minutes: float) -> Job:
        """The provider kept saying it does not know the task: the job failed."""
        return await self._update(
            job_id,
            only_in=("active", "expired"),
            state="failed",
            finished_at=time.time(),
            delivered_at=None,
            delivery_claimed_at=None,
            error_key="provider.lost",
            error_fields=json.dumps({"minutes": max(1, math.ceil(minutes))}),
        )

    async def set_card(
        self,
        job_id: int,
        *,
        channel_id: int,
        message_id: int,
        thread_id: int | None,
        shown: str | None = None,
    ) -> Job:
        return await self._update(
            job_id,
            card_channel_id=channel_id,
            card_message_id=message_id,
            thread_id=thread_id,
            card_shown=shown,
        )

    async def job(self, job_id: int) -> Job:
        found = await self.find_job(job_id)
        if found is None:
            raise KeyError(job_id)
        return found

    async def find_job(self, job_id: int) -> Job | None:
        async with self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cur:
            row = await cur.fetchone()
        return _job_from_row(row) if row else None

    async def job_by_request_key(self, key: str) -> Job | None:
        async with self._db.execute("SELECT * FROM jobs WHERE request_key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return _job_from_row(row) if row else None

    async def job_by_task(self, task_id: str) -> Job | None:
        async with self._db.execute("SELECT * FROM jobs WHERE task_id = ?", (task_id,)) as cur:
            row = await cur.fetchone()
        return _job_from_row(row) if row else None

    async def jobs(self) -> list[Job]:
        async with self._db.execute("SELECT * FROM jobs ORDER BY id") as cur:
            rows = await cur.fetchall()
        return [_job_from_row(r) for r in rows]

    async def job_by_reference(self, guild_id: int | None, reference: str) -> Job | None:
        """A guild's job by its number (`12`, `#12`) or the provider's task id."""
        text = reference.strip().lstrip("#")
        job: Job | None = None
        # ASCII digits only ("²".isdigit() is true, int("²") raises); over SQLite's int64
        # no row has the number, and binding it would raise OverflowError.
        if text.isascii() and text.isdigit():
            number = int(text)
            job = await self.find_job(number) if number < 2**63 else None
        elif text:
            job = await self.job_by_task(text)
        return job if job is not None and job.guild_id == guild_id else None

    async def job_image(self, job_id: int) -> ReferenceImage | None:
        async with self._db.execute(
            "SELECT filename, content_type, data FROM job_images WHERE job_id = ?", (job_id,)
        ) as cur:
            row = await cur.fetchone()
        return (
            ReferenceImage(filename=row[0], content_type=row[1], data=bytes(row[2]))
            if row
            else None
        )

    async def keep_still(self, job_id: int, filename: str, data: bytes) -> None:
        """The still made from a delivered video, for its card (replaces an earlier one)."""
        async with self._write:
            await self._db.execute(
                "INSERT OR REPLACE INTO job_stills (job_id, filename, data) VALUES (?, ?, ?)",
                (job_id, filename, data),
            )
            await self._db.commit()

    async def job_still(self, job_id: int) -> Thumbnail | None:
        async with self._db.execute(
            "SELECT filename, data FROM job_stills WHERE job_id = ?", (job_id,)
        ) as cur:
            row = await cur.fetchone()
        return Thumbnail(filename=row[0], data=bytes(row[1])) if row else None

    async def record_poll(self, job_id: int, video: VideoJob) -> Job:
        """Keep the provider's answer; a terminal status finishes the job.

        An expired job that the provider finishes late becomes completed (or failed) and
        undelivered again: the member was told it expired, and now gets the outcome.
        """
        fields: dict[str, Any] = {
            "provider_status": video.status,
            "progress": video.progress,
            "provider_answer": video.model_dump_json(),
            "looks": 0,
            "lost_since": None,
        }
        if video.status in ("completed", "failed", "cancelled", "expired"):
            fields |= {"delivered_at": None, "delivery_claimed_at": None, "resolution": None}
        if video.status in ("in_progress", "completed"):
            async with self._write:
                await self._db.execute(
                    "UPDATE jobs SET started_at = COALESCE(started_at, ?) WHERE id = ?",
                    (time.time(), job_id),
                )
                await self._db.commit()
        if video.status == "completed":
            fields |= {"state": "completed", "progress": 100, "finished_at": time.time()}
        elif video.status in ("failed", "cancelled", "expired"):
            error = video.error
            code, message = (error.code, error.message) if error else (None, None)
            # A safety refusal is told as what to change, not as the provider's words
            # (those stay in the fields, for Details).
            refused = failure_key(
                code, message, character=(await self.job(job_id)).character is not None
            )
            fields |= {
                "state": "failed",
                "finished_at": time.time(),
                "error_key": refused or "provider.video_failed",
                "error_fields": json.dumps(
                    {"message": message or video.status, "code": code or "-"}
                ),
            }
        return await self._update(job_id, only_in=("active", "expired"), **fields)

    async def mark_expired(self, job_id: int, minutes: float) -> Job:
        return await self._update(
            job_id,
            only_in=("active",),
            state="expired",
            finished_at=time.time(),
            error_key="tracking.expired",
            error_fields=json.dumps({"minutes": max(1, math.ceil(minutes))}),
        )

    async def mark_cancelled(self, job_id: int) -> Job:
        return await self._update(
            job_id, only_in=("active",), state="cancelled", finished_at=time.time()
        )

    async def set_card_shown(self, job_id: int, shown: str) -> Job:
        return await self._update(job_id, card_shown=shown)

    async def set_progress_message(self, job_id: int, message_id: int) -> Job:
        return await self._update(job_id, progress_message_id=message_id)

    async def queue_place(self, guild_id: int, job_id: int) -> int:
        """1 + this guild's jobs waiting at the provider (queued there, or their create on
        its way) that were made before `job_id`: where it stands in the guild's queue."""
        async with self._db.execute(
            "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND id < ?"
            " AND (state = 'pending' OR (state = 'active' AND provider_status = 'queued'))",
            (guild_id, job_id),
        ) as cur:
            row = await cur.fetchone()
        return 1 + (int(row[0]) if row else 0)

    async def recent_durations(
        self, *, model: str, seconds: int, guild_id: int | None = None, limit: int = 20
    ) -> list[float]:
        """Seconds from submission to the finished video, of the last `limit` completed
        videos of this model and length: this guild's, or (None) the whole bot's."""
        guild = " AND guild_id = ?" if guild_id is not None else ""
        args: list[Any] = [model, seconds, *([guild_id] if guild_id is not None else []), limit]
        async with self._db.execute(
            "SELECT finished_at - submitted_at FROM jobs"
            " WHERE state = 'completed' AND kind = 'video' AND model = ? AND seconds = ?"
            f"{guild} AND submitted_at IS NOT NULL AND finished_at IS NOT NULL"
            " ORDER BY finished_at DESC LIMIT ?",
            args,
        ) as cur:
            rows = await cur.fetchall()
        return [float(r[0]) for r in rows]

    async def claim_delivery(self, job_id: int) -> Job:
        """Record that delivery starts (kept from the first attempt): a later attempt, after a
        crash between posting and `mark_delivered`, knows to look for its own post first."""
        now = time.time()
        async with self._write:
            await self._db.execute(
                "UPDATE jobs SET delivery_claimed_at = COALESCE(delivery_claimed_at, ?),"
                " updated_at = ? WHERE id = ? AND delivered_at IS NULL",
                (now, now, job_id),
            )
            await self._db.commit()
        return await self.job(job_id)

    async def mark_delivered(
        self, job_id: int, *, message_id: int | None = None, error: str | None = None
    ) -> Job:
        """The member was told (or, with `error`, can't be: why, for the logs and admins).

        The message id of an earlier outcome (an expiry notice) is kept when this one's is
        unknown: a later check for our own post starts after it."""
        fields: dict[str, Any] = {
            "delivered_at": time.time(),
            "delivery_error": error,
            "delivery_failures": 0,
            "delivery_failing_since": None,
        }
        if message_id is not None:
            fields["delivery_message_id"] = message_id
        return await self._update(job_id, **fields)

    async def note_delivery_failure(self, job_id: int) -> Job:
        now = time.time()
        async with self._write:
            await self._db.execute(
                "UPDATE jobs SET delivery_failures = delivery_failures + 1,"
                " delivery_failing_since = COALESCE(delivery_failing_since, ?), updated_at = ?"
                " WHERE id = ?",
                (now, now, job_id),
            )
            await self._db.commit()
        return await self.job(job_id)

    async def open_job_ids(self, shards: Shards | None = None) -> list[int]:
        """Ids of the jobs `open_jobs` returns, without loading them."""
        where, args = _open_where(shards)
        async with self._db.execute(f"SELECT id FROM jobs WHERE {where} ORDER BY id", args) as cur:
            rows = await cur.fetchall()
        return [int(r[0]) for r in rows]

    async def open_jobs(self, shards: Shards | None = None) -> list[Job]:
        """Jobs the tracker must watch: waiting on the provider, or finished but not told;
        with `shards`, only those of these shards' guilds."""
        where, args = _open_where(shards)
        async with self._db.execute(f"SELECT * FROM jobs WHERE {where} ORDER BY id", args) as cur:
            rows = await cur.fetchall()
        return [_job_from_row(r) for r in rows]

    async def recent_jobs(
        self, *, guild_id: int, user_id: int | None = None, limit: int = 10, offset: int = 0
    ) -> list[Job]:
        query = "SELECT * FROM jobs WHERE guild_id = ?"
        args: list[Any] = [guild_id]
        if user_id is not None:
            query += " AND user_id = ?"
            args.append(user_id)
        query += " ORDER BY id DESC LIMIT ? OFFSET ?"
        args += [limit, offset]
        async with self._db.execute(query, args) as cur:
            rows = await cur.fetchall()
        return [_job_from_row(r) for r in rows]

    async def count_jobs_by_state(self) -> dict[str, int]:
        async with self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state") as cur:
            rows = await cur.fetchall()
        return {str(state): int(count) for state, count in rows}

    # Meta

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Held by one process of the fleet at a time: PostgreSQL's advisory lock; in SQLite
        a per-name asyncio.Lock, SQLite being one process (every Store of this file in this
        process shares it)."""
        lock = _EXCLUSIVE.setdefault((self._file, name), asyncio.Lock())
        async with lock:
            yield

    async def get_meta(self, key: str) -> str | None:
        async with self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def meta_keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix` whose value is not empty."""
        async with self._db.execute(
            "SELECT key FROM meta WHERE substr(key, 1, ?) = ? AND value != '' ORDER BY key",
            (len(prefix), prefix),
        ) as cur:
            rows = await cur.fetchall()
        return [str(r[0]) for r in rows]

    async def meta_setdefault(self, key: str, value: str) -> str:
        """`key`'s value, set to `value` first if it has none (atomic: one value wins)."""
        async with self._write:
            await self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value)
            )
            await self._db.commit()
        found = await self.get_meta(key)
        assert found is not None
        return found

    async def set_meta(self, key: str, value: str) -> None:
        async with self._write:
            await self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
            )
            await self._db.commit()
