"""From a member's storyboard to a provider job, with nothing lost on the way.

Order of work: validate (bad input changes nothing), store the job (so a crash
after this point leaves a trace), send the create request carrying the job's
own id in `metadata`, then record what the provider said. A failure after the
job is stored is recorded on the job, which the caller shows and can retry.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from bot.access import QuotaRule
from bot.characters import CharacterSource
from bot.config import Config, GuildSettings
from bot.errors import StoryboardError
from bot.i18n import public_locale
from bot.images import fit_for, prepare_for_send
from bot.job_metadata import create_metadata
from bot.leases import holding
from bot.moderation import failure_key
from bot.store import DuplicateRequest, Job, NewJob
from bot.store.api import StoreApi
from bot.storyboard import (
    Shot,
    Storyboard,
    StoryboardSettings,
    ValidStoryboard,
    validate_storyboard,
)
from bot.videos_api import (
    CreateVideoRequest,
    ReferenceImage,
    SubmissionUnknown,
    VideoApi,
    VideoJob,
    key_fingerprint,
)
from bot.videos_api.errors import Rejected, VideoApiError
from bot.videos_api.sandbox import FINGERPRINT as SANDBOX_FINGERPRINT

log = logging.getLogger(__name__)
CHARACTER_FIELDS = ("character_url", "character_timestamps", "character_from_task")
# Tries one request key may make after the provider refused the earlier ones.
MAX_ATTEMPTS_PER_KEY = 20
# Waits before recording a create's answer again after a failure (then one last try).
RECORD_RETRIES = (0.2, 1.0)


def _fingerprint(settings: GuildSettings) -> str | None:
    """Which key the job is made with, stored with it before the create is sent; a sandbox
    job says so (the server may have a real key, for later or from `[defaults]`)."""
    if settings.is_sandbox:
        return SANDBOX_FINGERPRINT
    return key_fingerprint(settings.api_key) if settings.api_key is not None else None


class SubmitOrder(BaseModel):
    """What the Discord side hands the core for one submission."""

    model_config = ConfigDict(frozen=True)

    # Unique per modal opening or button press: a double submit makes one job.
    request_key: str
    guild_id: int | None
    channel_id: int
    user_id: int
    locale: str
    # The guild's Discord "preferred locale" (from the interaction), for what everyone
    # reads when the server has no `locale` setting; None outside a guild.
    guild_locale: str | None
    storyboard: Storyboard
    image: ReferenceImage | None = None
    filesize_limit: int
    # Set for a character job; the storyboard's one shot then holds the character's name.
    character: CharacterSource | None = None


class SentNotRecorded(StoryboardError):
    """The provider took the create (it is made, and paid for), but its answer could not be
    stored. Never a refusal: nothing may offer to send it again."""

    def __init__(self, job_id: int) -> None:
        super().__init__("submit.not_recorded", job=job_id)
        self.job_id = job_id


class Submitter:
    def __init__(self, store: StoreApi, api: VideoApi, config: Callable[[], Config]) -> None:
        self._store = store
        self._api = api
        self._config = config
        # Told the id of a job sent but not recorded, to follow it (the tracker's `watch`).
        self.follow: Callable[[int], None] | None = None

    @property
    def _send_lease(self) -> float:
        # The delivery's lease serves the send too: how long a dead process holds a job.
        return self._config().file.tracking.delivery_lease_seconds

    def settings_for(self, guild_id: int | None) -> GuildSettings:
        return self._config().settings_for(guild_id)

    def validate(self, order: SubmitOrder) -> tuple[GuildSettings, ValidStoryboard]:
        settings = self.settings_for(order.guild_id)
        if not settings.can_submit:
            raise StoryboardError("guild.no_key")
        if order.character is not None:
            return settings, self._character_board(order, settings)
        valid = validate_storyboard(
            order.storyboard,
            settings.profile,
            models=settings.models,
            max_seconds=settings.max_seconds,
        )
        if order.image is not None and len(order.image.data) > settings.image_max_bytes:
            raise StoryboardError(
                "image.too_large",
                size_mb=round(len(order.image.data) / 1048576, 1),
                max_mb=round(settings.image_max_bytes / 1048576, 1),
            )
        return settings, valid

    @staticmethod
    def _character_board(order: SubmitOrder, settings: GuildSettings) -> ValidStoryboard:
        profile = settings.profile
        if not all(profile.allows(f) for f in CHARACTER_FIELDS):
            raise StoryboardError(
                "provider.not_supported", operation="characters", profile=profile.name
            )
        name = order.storyboard.shots[0].scene if order.storyboard.shots else ""
        d = settings.defaults
        return ValidStoryboard(
            shots=(Shot(scene=name or "character", duration=d.seconds),),
            settings=StoryboardSettings(model=d.model, seconds=d.seconds),
            size=profile.size_for(d.orientation),
        )

    async def submit(self, order: SubmitOrder) -> Job:
        """The stored job after its create request: `active`, `submit_failed` or `uncertain`.

        Raises `StoryboardError` for bad input (nothing stored) and for a request
        key that already made a job.
        """
        settings, valid = self.validate(order)
        image = order.image
        if image is not None:
            # Only now is the video's size known (a draft's image was checked when it was
            # attached): fitted here if the provider needs it exact, stored as sent.
            image = await asyncio.to_thread(
                prepare_for_send,
                image,
                max_bytes=settings.image_max_bytes,
                max_pixels=settings.image_max_pixels,
                fit=fit_for(settings, valid.size),
            )
        new = NewJob(
            request_key=order.request_key,
            guild_id=order.guild_id,
            channel_id=order.channel_id,
            user_id=order.user_id,
            locale=order.locale,
            public_locale=public_locale(settings.locale, order.guild_locale),
            storyboard=valid,
            image=image,
            filesize_limit=order.filesize_limit,
            character=order.character,
            key_fingerprint=_fingerprint(settings),
        )
        last = 0
        for attempt in range(2, MAX_ATTEMPTS_PER_KEY + 2):
            try:
                job = await self._store.create_job(
                    new, quota=QuotaRule.of(settings), send_lease=self._send_lease
                )
                break
            except DuplicateRequest as dup:
                last = dup.job_id
                earlier = await self._store.find_job(dup.job_id)
                # A refusal proved nothing was made: the same press or form may try again,
                # as a new attempt of its own (which a double click still makes only once).
                if earlier is None or earlier.state != "submit_failed":
                    raise StoryboardError("storyboard.already_submitted", job=dup.job_id) from None
                new = new.model_copy(update={"request_key": f"{order.request_key}#{attempt}"})
        else:
            raise StoryboardError("storyboard.already_submitted", job=last)
        return await self.send(job, settings, image)

    async def _let_go(self, job_id: int) -> None:
        try:
            async with asyncio.timeout(2):
                await self._store.release_send(job_id)
        except Exception as exc:  # the store closing under a stop: the lease runs out
            log.warning("job=%s: the send's hold was not released: %r", job_id, exc)

    async def send(self, job: Job, settings: GuildSettings, image: ReferenceImage | None) -> Job:
        """Send a stored `pending` job's create request and record the outcome."""
        profile = settings.profile
        metadata = await create_metadata(self._store, job)
        if job.character is not None:
            source = job.character
            request = CreateVideoRequest(
                model=job.storyboard.settings.model,
                prompt=job.storyboard.shots[0].scene,
                character_url=source.url,
                character_timestamps=source.timestamps,
                character_from_task=source.from_task,
                metadata=metadata,
            )
        else:
            request = CreateVideoRequest.from_storyboard(
                job.storyboard,
                profile,
                image=image,
                metadata=metadata if profile.allows("metadata") else None,
            )
        client = self._api.client_for(settings)
        lease = self._send_lease
        renew = functools.partial(self._store.renew_send, job.id, lease)
        try:
            # Held while the create is out: another process (a rolling deploy's new half)
            # must not call the job uncertain under an answer that may still come.
            async with holding(renew, lease, f"job={job.id}: send"):
                video = await client.create(request)
        except asyncio.CancelledError:
            # Cut off (a stop at its deadline): the create may have reached the provider.
            # The job stays pending, and the next process to look calls it uncertain at
            # once rather than after the lease.
            await self._let_go(job.id)
            raise
        except SubmissionUnknown as exc:
            # Never sent again from here: the tracker looks the job up by its metadata, and
            # where the provider can't list jobs the member is told and decides.
            can_look = client.can_list and profile.allows("metadata")
            log.warning(
                "job=%s create outcome unknown (%s)%s",
                job.id,
                exc.detail,
                "" if can_look else "; the provider can't list jobs, so the member decides",
            )
            return await self._store.mark_uncertain(
                job.id, exc.detail, None if can_look else "unlistable"
            )
        except VideoApiError as exc:
            log.info("job=%s create refused: %s %s", job.id, exc.key, exc.fields)
            key = exc.key
            if isinstance(exc, Rejected):
                # A safety refusal: the member is told what to change (the provider's
                # words stay in the fields, for Details) and is offered Edit, not Retry.
                key = failure_key(exc.code, exc.message, character=job.character is not None) or key
            return await self._store.mark_submit_failed(job.id, key, exc.fields)
        log.info("job=%s submitted task_id=%s", job.id, video.id)
        try:
            return await self._record(job.id, video)
        except Exception as exc:
            # Made and paid for, but not written down: the member must not be told to try
            # again. The job stays pending with its hold let go, and the tracker, told now,
            # finds it at the provider by its metadata like any create whose answer was lost.
            log.error(
                "job=%s task_id=%s: the provider took it, but recording that failed (%r);"
                " it will be looked up by its metadata",
                job.id,
                video.id,
                exc,
            )
            await self._let_go(job.id)
            if self.follow is not None:
                self.follow(job.id)
            raise SentNotRecorded(job.id) from exc

    async def _record(self, job_id: int, video: VideoJob) -> Job:
        """`mark_submitted`, tried again twice on a failure (a busy database's lock)."""
        for delay in RECORD_RETRIES:
            try:
                return await self._store.mark_submitted(job_id, video)
            except Exception as exc:
                log.warning("job=%s: recording the answer failed (%r); again", job_id, exc)
                await asyncio.sleep(delay)
        return await self._store.mark_submitted(job_id, video)
