"""Draft operations that span more than one store call: submit, duplicate, archive."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.config import Config
from bot.drafts import Actor, Draft, require_manager, require_open
from bot.errors import StoryboardError
from bot.store import Job
from bot.store.api import StoreApi
from bot.submission import SentNotRecorded, SubmitOrder, Submitter

log = logging.getLogger(__name__)


class DraftService:
    def __init__(self, store: StoreApi, submitter: Submitter, config: Callable[[], Config]) -> None:
        self._store = store
        self._submitter = submitter
        self._config = config

    async def submit(
        self,
        draft_id: int,
        actor: Actor,
        *,
        request_key: str,
        channel_id: int,
        filesize_limit: int,
        locale: str,
        guild_locale: str | None,
    ) -> tuple[Draft, Job]:
        """Validate and submit, exactly once however many press Submit; the draft locks.

        Bad input raises with nothing changed. A provider refusal reopens the draft.
        """
        drafts = self._store.drafts
        draft = await drafts.get(draft_id)
        require_open(draft)
        require_manager(draft, actor, self._config().guild(draft.guild_id))
        # Lock first, then read: an edit landing meanwhile is either in what is sent or
        # refused (edits apply only while the draft is open), never silently dropped.
        if not await drafts.close(draft_id, "submitted"):
            raise StoryboardError(f"draft.is_{(await drafts.get(draft_id)).state}")
        draft = await drafts.get(draft_id)
        order = SubmitOrder(
            request_key=request_key,
            guild_id=draft.guild_id,
            channel_id=channel_id,
            user_id=actor.user_id,
            locale=locale,
            guild_locale=guild_locale,
            storyboard=draft.storyboard(),
            image=await drafts.image(draft_id),
            filesize_limit=filesize_limit,
        )
        try:
            self._submitter.validate(order)
        except BaseException:
            await drafts.reopen(draft_id)
            raise
        try:
            job = await self._submitter.submit(order)
        except SentNotRecorded as sent:
            # Made and paid for: the draft stays locked (as it was locked before sending),
            # so no edit makes a second version of it; its job is noted if the store lets us.
            try:
                await drafts.close(draft_id, "submitted", job_id=sent.job_id, only_if_open=False)
            except Exception:
                log.warning("draft=%s: its job=%s not noted on it", draft_id, sent.job_id)
            raise
        except StoryboardError:
            await drafts.reopen(draft_id)  # refused before anything was stored or sent
            raise
        except Exception:
            # A job may be stored and its create on its way: reopen only if none was.
            if await self._store.job_by_request_key(request_key) is None:
                await drafts.reopen(draft_id)
            raise
        # Cancelled (a stop at its deadline): the job stays `pending`, the tracker looks it
        # up at the next start, and the draft stays locked so nobody pays for it twice.
        if job.state == "submit_failed":
            await drafts.reopen(draft_id)
        else:
            await drafts.close(draft_id, "submitted", job_id=job.id, only_if_open=False)
        log.info("draft=%s submitted as job=%s (%s)", draft_id, job.id, job.state)
        return await drafts.get(draft_id), job

    async def duplicate(
        self, draft_id: int, actor: Actor, *, channel_id: int, title: str, locale: str
    ) -> Draft:
        """A new open draft with the same settings, shots (and their authors) and image."""
        drafts = self._store.drafts
        source = await drafts.get(draft_id)
        copy = await drafts.create(
            guild_id=source.guild_id,
            channel_id=channel_id,
            owner_id=actor.user_id,
            title=title,
            locale=locale,
            settings=source.settings,
        )
        for shot in source.shots:
            await drafts.add_shot(
                copy.id, scene=shot.scene, duration=shot.duration, author_id=shot.author_id
            )
        image = await drafts.image(draft_id)
        if image is not None:
            await drafts.set_image(copy.id, image)
        return await drafts.get(copy.id)

    async def archive_stale(self, now: float | None = None) -> list[Draft]:
        """Archive (never delete) open drafts untouched for their guild's `draft_ttl_days`."""
        now = time.time() if now is None else now
        config = self._config()
        archived = []
        for draft in await self._store.drafts.untouched_since(now):
            ttl = config.guild(draft.guild_id).draft_ttl_days * 86400
            if draft.updated_at < now - ttl and await self._store.drafts.close(
                draft.id, "archived"
            ):
                archived.append(await self._store.drafts.get(draft.id))
                log.info("draft=%s archived after %.0f idle days", draft.id, ttl / 86400)
        return archived
