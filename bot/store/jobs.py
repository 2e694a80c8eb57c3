"""The one place job state lives, on SQLite or PostgreSQL (`bot.store.db`).

Methods take and return pydantic models; no SQL lives anywhere else. Every change of a
job's state is a compare-and-set (`UPDATE ... WHERE state IN (...) RETURNING *`): two
processes, or a process and its restarted self during a deploy, can never both move a
job, count a quota past its limit or deliver one outcome twice.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import socket
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from bot.access import QuotaRule, Usage, check_quota
from bot.characters import CharacterSource
from bot.moderation import failure_key
from bot.shards import Shards
from bot.store.db import Database, Queries, Row, UniqueViolation
from bot.store.drafts import DraftStore
from bot.store.echoes import EchoStore
from bot.store.models import (
    COUNTED,
    OPEN_JOBS,
    DuplicateRequest,
    Job,
    JobState,
    NewJob,
    Resolution,
)
from bot.store.previews import PreviewStore
from bot.storyboard import ValidStoryboard
from bot.thumbnails import Thumbnail
from bot.videos_api.models import ReferenceImage, VideoJob
from bot.videos_api.ratelimit import SharedPacing

log = logging.getLogger(__name__)


def _job_from_row(row: Row) -> Job:
    data = dict(row)
    data["storyboard"] = ValidStoryboard.model_validate_json(data["storyboard"])
    data["provider_answer"] = (
        json.loads(data["provider_answer"]) if data["provider_answer"] else None
    )
    data["error_fields"] = json.loads(data["error_fields"]) if data["error_fields"] else {}
    raw = data.get("character")
    data["character"] = CharacterSource.model_validate_json(raw) if raw else None
    return Job.model_validate(data)


def _shard_filter(shards: Shards | None) -> tuple[str, list[int]]:
    """SQL (and its arguments) keeping the jobs of `shards`' guilds; DMs are shard 0's.
    Both databases shift and take the remainder on 64-bit integers."""
    if shards is None:
        return "", []
    marks = ", ".join("?" * len(shards.ids))
    return (
        f" AND ((COALESCE(guild_id, 0) >> 22) % ?) IN ({marks})",
        [shards.count, *shards.ids],
    )


def _run_name() -> str:
    """This process's run, as the owner of its delivery claims: a restarted process is a
    new owner, so it never mistakes its dead self's claim for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Store:
    """Open with `await Store.open(path)` (SQLite) or `bot.store.open_store(...)`."""

    def __init__(self, db: Database, *, owner: str | None = None) -> None:
        self.db = db
        self.owner = owner or _run_name()
        self.drafts = DraftStore(db)
        self.echoes = EchoStore(db)
        self.previews = PreviewStore(db)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    @classmethod
    async def open(cls, path: Path) -> Store:
        from bot.store.sqlite import SqliteDatabase

        return cls(await SqliteDatabase.open(path))

    async def close(self) -> None:
        await self.db.close()

    def key_pacing(self) -> SharedPacing | None:
        """Each API key's request ceiling and pause for every process of the fleet, or
        None on SQLite: its file serves one process, whose in-memory pacer is the fleet's."""
        if self.db.dialect != "postgres":
            return None
        # Imported here: it needs asyncpg, an extra only PostgreSQL users install.
        from bot.store.pacing import KeyPacers

        return KeyPacers(self.db)

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held by one process of the fleet at a time (`Database.exclusive`)."""
        return self.db.exclusive(name)

    async def ping(self) -> None:
        """Proves the database answers and is writable."""
        await self.set_meta("ping", str(time.time()))

    # Jobs

    async def create_job(
        self, new: NewJob, quota: QuotaRule | None = None, *, send_lease: float | None = None
    ) -> Job:
        """Store a job in state `pending`; raises `DuplicateRequest` for a known request key.

        With `quota`, the count and the insert are one transaction holding the guild's
        lock, so two submissions at the same moment, in any two processes, can't both
        slip under a limit. With `send_lease`, this process holds the job's send for that
        many seconds (`renew_send`), from the moment it exists: no other process calls it
        uncertain while its create may still be answered.
        """
        now = time.time()
        limited = quota is not None and quota.limits_anything
        try:
            async with self.db.transaction() as tx:
                if limited:
                    # Before the key's look-up: a second submit of the same form waiting
                    # here must then see the first's job, not count it against a quota.
                    await tx.lock(f"quota:{new.guild_id or f'dm:{new.user_id}'}")
                # A known key first: a second submit of a form that already made its job is
                # "already submitted", never a quota refusal (whose Fix would pay again).
                known = await tx.fetchval(
                    "SELECT id FROM jobs WHERE request_key = ?", new.request_key
                )
                if known is not None:
                    raise DuplicateRequest(int(known))
                if quota is not None and limited:
                    usage = await _usage(tx, new.guild_id, new.user_id, quota.day_start(now))
                    seconds = 0 if new.character else new.storyboard.settings.seconds
                    check_quota(quota, usage, seconds=seconds, now=now)
                job_id = await self._insert_job(tx, new, now)
                if send_lease is not None:
                    await tx.execute(
                        f"UPDATE jobs SET send_owner = ?, send_lease_until = {self.db.clock_sql} + ?"
                        " WHERE id = ?",
                        self.owner,
                        send_lease,
                        job_id,
                    )
        except UniqueViolation:
            existing = await self.job_by_request_key(new.request_key)
            if existing is None:
                raise
            raise DuplicateRequest(existing.id) from None
        return await self.job(job_id)

    async def usage_now(self, guild_id: int | None, user_id: int, since: float) -> Usage:
        """Jobs that count (`COUNTED`) since `since`; the last one starts the cooldown."""
        return await _usage(self.db, guild_id, user_id, since)

    async def usage_by_member(self, guild_id: int, since: float) -> list[tuple[int, int, int]]:
        """(user id, jobs, video seconds) since `since`, busiest first; only jobs that count
        (`COUNTED`, as for quotas), so the admin view agrees with `/video quota`."""
        rows = await self.db.fetch(
            f"""SELECT user_id, COUNT(*), COALESCE(SUM(seconds), 0) FROM jobs
               WHERE guild_id = ? AND created_at >= ? AND {COUNTED}
               GROUP BY user_id ORDER BY 3 DESC, 2 DESC""",
            guild_id,
            since,
        )
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def undelivered_of(self, guild_id: int, prefix: str, since: float) -> list[Job]:
        """A guild's jobs closed since `since` whose delivery error starts with `prefix`,
        newest first (at most 10): what no channel of theirs would take."""
        rows = await self.db.fetch(
            "SELECT * FROM jobs WHERE guild_id = ? AND delivered_at >= ?"
            " AND substr(delivery_error, 1, ?) = ? ORDER BY id DESC LIMIT 10",
            guild_id,
            since,
            len(prefix),
            prefix,
        )
        return [_job_from_row(r) for r in rows]

    async def open_jobs_of(self, guild_id: int) -> list[Job]:
        rows = await self.db.fetch(
            "SELECT * FROM jobs WHERE guild_id = ? AND (state IN ('pending', 'active')"
            " OR (state IN ('uncertain', 'expired') AND resolution IS NULL)) ORDER BY id",
            guild_id,
        )
        return [_job_from_row(r) for r in rows]

    async def _insert_job(self, tx: Queries, new: NewJob, now: float) -> int:
        job_id = await tx.fetchval(
            """INSERT INTO jobs (request_key, guild_id, channel_id, user_id, locale,
                   public_locale, storyboard, image_name, filesize_limit, state, created_at,
                   updated_at, seconds, kind, character, key_fingerprint, model)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)
               RETURNING id""",
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
        )
        if new.image is not None:
            await tx.execute(
                "INSERT INTO job_images (job_id, filename, content_type, data) VALUES (?, ?, ?, ?)",
                job_id,
                new.image.filename,
                new.image.content_type,
                new.image.data,
            )
        return int(job_id)

    async def _update(
        self, job_id: int, *, only_in: tuple[JobState, ...] = (), **fields: Any
    ) -> Job:
        """Change a job's fields; with `only_in`, only while it is in one of those states
        (a compare-and-set: a job another process moved meanwhile is returned as it is)."""
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        guard = f" AND state IN ({', '.join('?' * len(only_in))})" if only_in else ""
        row = await self.db.fetchrow(
            f"UPDATE jobs SET {assignments} WHERE id = ?{guard} RETURNING *",
            *fields.values(),
            job_id,
            *only_in,
        )
        return _job_from_row(row) if row is not None else await self.job(job_id)

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

    async def mark_unsent_uncertain(self, job_id: int, detail: str) -> Job:
        """A `pending` job whose create no live process is sending (its sender died or
        stopped mid-send) becomes uncertain: the create may have reached the provider.
        A job whose send another process still holds is returned as it is, `pending`:
        that process's answer decides (a refusal, as much as an acceptance)."""
        row = await self.db.fetchrow(
            "UPDATE jobs SET state = 'uncertain', error_key = 'provider.submission_unknown',"
            " error_fields = ?, updated_at = ? WHERE id = ? AND state = 'pending'"
            f" AND (send_lease_until IS NULL OR send_lease_until < {self.db.clock_sql})"
            " RETURNING *",
            json.dumps({"detail": detail}),
            time.time(),
            job_id,
        )
        return _job_from_row(row) if row is not None else await self.job(job_id)

    async def renew_send(self, job_id: int, lease_seconds: float) -> bool:
        """Extend this process's hold on a pending job's send; False once the job has
        left `pending` or another process took it over."""
        return (
            await self.db.execute(
                f"UPDATE jobs SET send_lease_until = {self.db.clock_sql} + ?"
                " WHERE id = ? AND state = 'pending' AND send_owner = ?",
                lease_seconds,
                job_id,
                self.owner,
            )
            > 0
        )

    async def release_send(self, job_id: int) -> None:
        """This process no longer sends the job (its send was cut off by a stop): the
        next process need not wait for the lease to run out."""
        await self.db.execute(
            "UPDATE jobs SET send_lease_until = NULL WHERE id = ? AND send_owner = ?",
            job_id,
            self.owner,
        )

    async def set_resolution(self, job_id: int, resolution: Resolution) -> Job:
        """Stop looking for an uncertain or expired job; the member is told why."""
        return await self._update(
            job_id, only_in=("uncertain", "expired"), resolution=resolution, finished_at=time.time()
        )

    async def note_look(self, job_id: int, *, lost: bool = False) -> Job:
        """One more look that found nothing (with `lost`, a 404 on a known task)."""
        now = time.time()
        await self.db.execute(
            "UPDATE jobs SET looks = looks + 1, updated_at = ?,"
            " lost_since = CASE WHEN ? THEN COALESCE(lost_since, ?) ELSE lost_since END"
            " WHERE id = ?",
            now,
            lost,
            now,
            job_id,
        )
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
            delivery_owner=None,
            delivery_lease_until=None,
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
        row = await self.db.fetchrow("SELECT * FROM jobs WHERE id = ?", job_id)
        return _job_from_row(row) if row else None

    async def job_by_request_key(self, key: str) -> Job | None:
        row = await self.db.fetchrow("SELECT * FROM jobs WHERE request_key = ?", key)
        return _job_from_row(row) if row else None

    async def job_by_task(self, task_id: str) -> Job | None:
        row = await self.db.fetchrow("SELECT * FROM jobs WHERE task_id = ?", task_id)
        return _job_from_row(row) if row else None

    async def jobs(self) -> list[Job]:
        rows = await self.db.fetch("SELECT * FROM jobs ORDER BY id")
        return [_job_from_row(r) for r in rows]

    async def job_by_reference(self, guild_id: int | None, reference: str) -> Job | None:
        """A guild's job by its number (`12`, `#12`) or the provider's task id."""
        text = reference.strip().lstrip("#")
        job: Job | None = None
        # ASCII digits only ("²".isdigit() is true, int("²") raises); over a 64-bit
        # integer no row has the number, and binding it would raise OverflowError.
        if text.isascii() and text.isdigit():
            number = int(text)
            job = await self.find_job(number) if number < 2**63 else None
        elif text:
            job = await self.job_by_task(text)
        return job if job is not None and job.guild_id == guild_id else None

    async def job_image(self, job_id: int) -> ReferenceImage | None:
        row = await self.db.fetchrow(
            "SELECT filename, content_type, data FROM job_images WHERE job_id = ?", job_id
        )
        return (
            ReferenceImage(filename=row[0], content_type=row[1], data=bytes(row[2]))
            if row
            else None
        )

    async def keep_still(self, job_id: int, filename: str, data: bytes) -> None:
        """The still made from a delivered video, for its card (replaces an earlier one)."""
        await self.db.execute(
            "INSERT INTO job_stills (job_id, filename, data) VALUES (?, ?, ?)"
            " ON CONFLICT (job_id) DO UPDATE SET filename = excluded.filename,"
            " data = excluded.data",
            job_id,
            filename,
            data,
        )

    async def job_still(self, job_id: int) -> Thumbnail | None:
        row = await self.db.fetchrow(
            "SELECT filename, data FROM job_stills WHERE job_id = ?", job_id
        )
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
            fields |= {
                "delivered_at": None,
                "delivery_claimed_at": None,
                "delivery_owner": None,
                "delivery_lease_until": None,
                "resolution": None,
            }
        if video.status in ("in_progress", "completed"):
            await self.db.execute(
                "UPDATE jobs SET started_at = COALESCE(started_at, ?) WHERE id = ?",
                time.time(),
                job_id,
            )
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
        count = await self.db.fetchval(
            "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND id < ?"
            " AND (state = 'pending' OR (state = 'active' AND provider_status = 'queued'))",
            guild_id,
            job_id,
        )
        return 1 + int(count or 0)

    async def recent_durations(
        self, *, model: str, seconds: int, guild_id: int | None = None, limit: int = 20
    ) -> list[float]:
        """Seconds from submission to the finished video, of the last `limit` completed
        videos of this model and length: this guild's, or (None) the whole bot's."""
        guild = " AND guild_id = ?" if guild_id is not None else ""
        args: list[Any] = [model, seconds, *([guild_id] if guild_id is not None else []), limit]
        rows = await self.db.fetch(
            "SELECT finished_at - submitted_at FROM jobs"
            " WHERE state = 'completed' AND kind = 'video' AND model = ? AND seconds = ?"
            f"{guild} AND submitted_at IS NOT NULL AND finished_at IS NOT NULL"
            " ORDER BY finished_at DESC LIMIT ?",
            *args,
        )
        return [float(r[0]) for r in rows]

    async def claim_delivery(self, job_id: int, lease_seconds: float) -> Job | None:
        """Claim the job's delivery for this process before anything is posted, or None
        when another live process holds it (or it was delivered meanwhile).

        The claim's first time is kept across attempts: a later attempt, after a crash
        between posting and `mark_delivered`, knows to look for its own post first. The
        claim lasts `lease_seconds` unless renewed (`renew_delivery`): a process that dies
        holds it no longer. Only a job with an outcome to tell is claimed: a caller may
        hold a job another process has meanwhile moved back to running (or its member
        cancelled), and that has nothing to post."""
        now = time.time()
        # The lease on the database's clock: hosts whose clocks differ agree on it.
        clock = self.db.clock_sql
        row = await self.db.fetchrow(
            "UPDATE jobs SET delivery_claimed_at = COALESCE(delivery_claimed_at, ?),"
            f" delivery_owner = ?, delivery_lease_until = {clock} + ?, updated_at = ?"
            " WHERE id = ? AND delivered_at IS NULL AND (delivery_owner IS NULL"
            f" OR delivery_owner = ? OR delivery_lease_until < {clock})"
            " AND (state IN ('completed', 'failed', 'expired')"
            " OR (state = 'uncertain' AND resolution IS NOT NULL)) RETURNING *",
            now,
            self.owner,
            lease_seconds,
            now,
            job_id,
            self.owner,
        )
        return _job_from_row(row) if row is not None else None

    async def renew_delivery(self, job_id: int, lease_seconds: float) -> bool:
        """Extend this process's claim while its delivery runs; False if it has lost it."""
        return (
            await self.db.execute(
                f"UPDATE jobs SET delivery_lease_until = {self.db.clock_sql} + ?"
                " WHERE id = ? AND delivery_owner = ? AND delivered_at IS NULL",
                lease_seconds,
                job_id,
                self.owner,
            )
            > 0
        )

    async def mark_delivered(
        self,
        job_id: int,
        *,
        message_id: int | None = None,
        error: str | None = None,
        state: JobState | None = None,
    ) -> Job:
        """The member was told (or, with `error`, can't be: why, for the logs and admins).

        Only by the claim's owner, or with no claim (a job cancelled by its member): a
        process whose lease ran out while it posted must not record over the new owner.
        With `state`, the state whose outcome was posted, only while the job is still in
        it: another process may have found the video of an expired job meanwhile (its
        poll clears the claim), and the expiry notice must not close that new outcome.
        The message id of an earlier outcome (an expiry notice) is kept when this one's is
        unknown: a later check for our own post starts after it."""
        now = time.time()
        row = await self.db.fetchrow(
            "UPDATE jobs SET delivered_at = ?, delivery_error = ?, delivery_failures = 0,"
            " delivery_failing_since = NULL, delivery_owner = NULL,"
            " delivery_lease_until = NULL, updated_at = ?,"
            " delivery_message_id = COALESCE(?, delivery_message_id)"
            " WHERE id = ? AND delivered_at IS NULL"
            " AND (delivery_owner IS NULL OR delivery_owner = ?)"
            " AND (CAST(? AS TEXT) IS NULL OR state = ?) RETURNING *",
            now,
            error,
            now,
            message_id,
            job_id,
            self.owner,
            state,
            state,
        )
        return _job_from_row(row) if row is not None else await self.job(job_id)

    async def note_delivery_failure(self, job_id: int) -> Job:
        """A passing failure: counted, and the claim let go until the next attempt."""
        now = time.time()
        await self.db.execute(
            "UPDATE jobs SET delivery_failures = delivery_failures + 1,"
            " delivery_failing_since = COALESCE(delivery_failing_since, ?), updated_at = ?,"
            " delivery_owner = NULL, delivery_lease_until = NULL"
            " WHERE id = ? AND (delivery_owner IS NULL OR delivery_owner = ?)",
            now,
            now,
            job_id,
            self.owner,
        )
        return await self.job(job_id)

    async def open_job_ids(self, shards: Shards | None = None) -> list[int]:
        """Ids of the jobs `open_jobs` returns, without loading them."""
        only, args = _shard_filter(shards)
        rows = await self.db.fetch(
            f"SELECT id FROM jobs WHERE ({OPEN_JOBS}){only} ORDER BY id", *args
        )
        return [int(r[0]) for r in rows]

    async def open_jobs(self, shards: Shards | None = None) -> list[Job]:
        """Jobs the tracker must watch (of `shards`' guilds): waiting on the provider, or
        finished but not told."""
        only, args = _shard_filter(shards)
        rows = await self.db.fetch(
            f"SELECT * FROM jobs WHERE ({OPEN_JOBS}){only} ORDER BY id", *args
        )
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
        rows = await self.db.fetch(query, *args)
        return [_job_from_row(r) for r in rows]

    async def count_jobs_by_state(self) -> dict[str, int]:
        rows = await self.db.fetch("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {str(r[0]): int(r[1]) for r in rows}

    # Meta

    async def get_meta(self, key: str) -> str | None:
        value = await self.db.fetchval("SELECT value FROM meta WHERE key = ?", key)
        return str(value) if value is not None else None

    async def meta_keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix` whose value is not empty."""
        rows = await self.db.fetch(
            "SELECT key FROM meta WHERE substr(key, 1, ?) = ? AND value != '' ORDER BY key",
            len(prefix),
            prefix,
        )
        return [str(r[0]) for r in rows]

    async def meta_setdefault(self, key: str, value: str) -> str:
        """`key`'s value, set to `value` first if it has none (atomic: one value wins)."""
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", key, value
        )
        found = await self.get_meta(key)
        assert found is not None
        return found

    async def set_meta(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )


async def _usage(q: Queries, guild_id: int | None, user_id: int, since: float) -> Usage:
    """Jobs that count (`COUNTED`) since `since`; the last one starts the cooldown."""
    # `guild_id` may be None (a DM): matched with a cast that both databases type.
    same_guild = "(guild_id = ? OR (guild_id IS NULL AND CAST(? AS BIGINT) IS NULL))"
    row = await q.fetchrow(
        f"""SELECT
              (SELECT COUNT(*) FROM jobs WHERE {same_guild} AND user_id = ? AND created_at >= ? AND {COUNTED}),
              (SELECT COALESCE(SUM(seconds), 0) FROM jobs WHERE {same_guild} AND created_at >= ? AND {COUNTED}),
              (SELECT MAX(created_at) FROM jobs WHERE {same_guild} AND user_id = ? AND {COUNTED})""",
        guild_id,
        guild_id,
        user_id,
        since,
        guild_id,
        guild_id,
        since,
        guild_id,
        guild_id,
        user_id,
    )
    assert row is not None
    return Usage(
        user_jobs_today=int(row[0]), guild_seconds_today=int(row[1]), user_last_job_at=row[2]
    )
