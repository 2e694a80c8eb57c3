"""Telling a member how their job ended, in its thread: once, and within Discord's limits.

The tracker records a claim before it asks for a delivery. An attempt that finds an
earlier claim (the bot stopped between posting and recording the post) first looks in
the thread for its own earlier post and reports that instead of posting again; the
per-outcome `nonce` is a second guard for the few minutes Discord honours it.

Each failure is classified: a passing one (Discord or the provider down) is retried by
the tracker with backoff; a permanent one (the provider no longer keeps the video, the
thread is gone, a text Discord refuses) ends with the best notice that can be posted.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import tempfile
from pathlib import Path

import discord
from discord import ui

from bot.bot import StoryboardBot
from bot.errors import StoryboardError
from bot.i18n import t
from bot.moderation import is_moderation
from bot.store import Job
from bot.tracker import Delivery, video_link
from bot.transcoder import TranscoderBusy
from bot.video_fit import CannotFit, Unreadable
from bot.videos_api import ContentTooLarge, NotFound, VideoApiError
from bot.videos_api.sandbox import is_sandbox_task
from cogs.delivery_refused import MISSING_PERMISSIONS, not_attached_text, not_posted_error
from cogs.job_views import video_view

log = logging.getLogger(__name__)
MB = 1024 * 1024
MESSAGE_LIMIT = 2000
# A provider's reason is quoted, not trusted: a 3,000-character one must still fit.
REASON_LIMIT = 900
CHARACTER_ANSWER_FIELDS = ("character_id", "character", "character_name", "username", "name")
# How far back (our clock against Discord's) an earlier post of ours may be dated.
CLOCK_SLACK = dt.timedelta(seconds=5)
# What a fitted file leaves of the member's upload limit for the rest of the request (the
# text, the form fields).
MESSAGE_ROOM = 8 * 1024
# Discord error codes for "the file is over the upload limit".
TOO_LARGE_CODES = frozenset({40005})
# The card's still when the provider offers none: a thumbnail, so small (an embed shows it
# at about 80 px; a click opens it larger).
STILL_MAX_BYTES = 200 * 1024
STILL_LONG_SIDE = 480
STILL_NAME = "thumbnail.jpg"


def character_details(job: Job) -> str:
    """What the provider said about the new character, as far as it said anything: its
    own field names and values, quoted as code (they are ids, not words to translate)."""
    answer = job.provider_answer or {}
    found = [
        f"`{k}: {str(answer[k]).replace('`', '')}`"
        for k in CHARACTER_ANSWER_FIELDS
        if isinstance(answer.get(k), str | int)
    ]
    return clip(" · ".join(found), REASON_LIMIT)


def delivery_nonce(job: Job) -> str:
    """The same for every attempt to deliver one outcome of one job (a late video after an
    expiry notice is another outcome): Discord (`enforce_nonce`) returns the first message
    instead of posting again within a few minutes."""
    return f"sb-deliver-{job.id}-{job.state[0]}"


def marker(job: Job) -> re.Pattern[str]:
    """What every delivery of `job` is, to recognise our own earlier post: a message to its
    member that names the video's number (not a longer number: #1 is not #12). The
    thread's progress message names it too, but is to no one."""
    return re.compile(rf"^<@!?{job.user_id}>.*#{job.id}(?!\d)", re.DOTALL)


def human_size(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{max(1, round(size / 1024))} KB"


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason_of(job: Job) -> str:
    fields = {
        k: clip(v, REASON_LIMIT) if isinstance(v, str) else v for k, v in job.error_fields.items()
    }
    return clip(t(job.error_key or "provider.down", job.public_locale, **fields), REASON_LIMIT)


class Deliverer:
    """Posts outcomes for the tracker (`JobEvents.deliver` and `give_up_delivery`)."""

    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    def _where(self, job: Job) -> discord.PartialMessageable:
        target = job.thread_id or job.card_channel_id or job.channel_id
        return self.bot.get_partial_messageable(target, guild_id=job.guild_id)

    def _fallback(self, job: Job) -> discord.PartialMessageable | None:
        """Where the member asked, when the job's thread is gone (deleted, or closed to us)."""
        target = job.card_channel_id or job.channel_id
        if job.thread_id is None or target == job.thread_id:
            return None
        return self.bot.get_partial_messageable(target, guild_id=job.guild_id)

    @staticmethod
    def _mentions(job: Job) -> discord.AllowedMentions:
        return discord.AllowedMentions(users=[discord.Object(job.user_id)])

    async def deliver(self, job: Job, *, maybe_posted: bool) -> Delivery:
        where = self._where(job)
        if maybe_posted:
            earlier = await self._earlier_post(job, where)
            if earlier is not None:
                log.info(
                    "job=%s task_id=%s: already posted as message %s before a restart",
                    job.id,
                    job.task_id,
                    earlier,
                )
                return Delivery(outcome="delivered", message_id=earlier)
        try:
            try:
                return await self._post(job, where)
            except (discord.Forbidden, discord.NotFound):
                fallback = self._fallback(job)
                if fallback is None:
                    raise
                log.warning(
                    "job=%s task_id=%s: the thread is gone or closed to me; posting in the"
                    " channel instead",
                    job.id,
                    job.task_id,
                )
                return await self._post(job, fallback)
        except (discord.Forbidden, discord.NotFound) as exc:
            return await self._refused(job, exc)
        except discord.HTTPException as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                return await self._short_notice(job, where, exc)
            log.warning(
                "job=%s task_id=%s: delivery failed (%s); will retry",
                job.id,
                job.task_id,
                exc.status,
            )
            return Delivery(outcome="retry")

    async def _refused(self, job: Job, exc: discord.HTTPException) -> Delivery:
        """Neither the thread nor the channel took the post. Missing one permission (Attach
        Files, say) still lets a notice without the file through; nothing at all closes the
        job as `NOT_POSTED`, which `/storyboard-admin show` lists with the reason."""
        if exc.code == MISSING_PERMISSIONS and job.state == "completed" and job.kind == "video":
            text = not_attached_text(job)
            for where in (self._where(job), self._fallback(job)):
                if where is None:
                    continue
                try:
                    sent = await self._send(job, where, text)
                except discord.HTTPException:
                    continue
                return sent.model_copy(update={"error": "posted without the file: no Attach Files"})
        log.warning(
            "job=%s task_id=%s: no channel of the job is open to me (%s %s); not delivering",
            job.id,
            job.task_id,
            exc.status,
            exc.code,
        )
        return Delivery(outcome="permanent", error=not_posted_error(exc))

    async def _post(self, job: Job, where: discord.PartialMessageable) -> Delivery:
        if job.state == "completed" and job.kind == "video":
            return await self._video(job, where)
        return await self._send(job, where, self._outcome_text(job))

    async def give_up_delivery(self, job: Job) -> None:
        text = t(
            "delivery.gave_up",
            job.public_locale,
            mention=f"<@{job.user_id}>",
            job=job.id,
            task_id=job.task_id or "-",
        )
        try:
            await self._where(job).send(
                clip(text), allowed_mentions=self._mentions(job), nonce=f"sb-gaveup-{job.id}"
            )
        except discord.HTTPException:
            log.warning("job=%s: could not post the give-up notice either", job.id)

    async def _earlier_post(self, job: Job, where: discord.PartialMessageable) -> int | None:
        """Our own post of this outcome, if an earlier attempt made it."""
        me = self.bot.user
        claimed = job.delivery_claimed_at
        if me is None or claimed is None:
            return None
        since = dt.datetime.fromtimestamp(claimed, dt.UTC) - CLOCK_SLACK
        after = discord.utils.time_snowflake(since)
        if job.delivery_message_id is not None:  # an earlier outcome's post (expiry notice)
            after = max(after, job.delivery_message_id)
        sign = marker(job)
        try:
            async for message in where.history(after=discord.Object(after), limit=100):
                if message.author.id == me.id and sign.search(message.content):
                    return message.id
        except discord.HTTPException as exc:
            log.info("job=%s: could not read the thread to check (%s)", job.id, exc.status)
        return None

    def _outcome_text(self, job: Job) -> str:
        mention = f"<@{job.user_id}>"
        task = job.task_id or "-"
        if job.state == "completed":  # a character
            return t(
                "delivery.character_done",
                job.public_locale,
                mention=mention,
                task_id=task,
                job=job.id,
                details=character_details(job),
            )
        if job.state == "uncertain":
            key = (
                "delivery.unknown_unlistable"
                if job.resolution == "unlistable"
                else "delivery.unknown_not_found"
            )
            return t(key, job.public_locale, mention=mention, job=job.id)
        if job.state == "expired":
            hours = self.bot.config.file.tracking.resolve_hours
            return t(
                "delivery.expired",
                job.public_locale,
                mention=mention,
                reason=reason_of(job),
                job=job.id,
                task_id=task,
                hours=round(hours),
            )
        # A safety refusal: the reason says what to change; Retry is not offered.
        key = "delivery.failed_moderation" if is_moderation(job.error_key) else "delivery.failed"
        return t(
            key, job.public_locale, mention=mention, reason=reason_of(job), job=job.id, task_id=task
        )

    async def _send(
        self,
        job: Job,
        where: discord.PartialMessageable,
        text: str,
        **extra: object,
    ) -> Delivery:
        message = await where.send(
            clip(text),
            allowed_mentions=self._mentions(job),
            nonce=delivery_nonce(job),
            **extra,  # type: ignore[call-overload]
        )
        return Delivery(outcome="delivered", message_id=message.id)

    async def _short_notice(
        self, job: Job, where: discord.PartialMessageable, exc: discord.HTTPException
    ) -> Delivery:
        """Discord refused the message itself (a 4xx): the shortest notice that says how the
        job ended; if even that is refused, the job closes with the reason logged."""
        log.warning(
            "job=%s task_id=%s: Discord refused the delivery (%s %s); sending a short notice",
            job.id,
            job.task_id,
            exc.status,
            exc.code,
        )
        text = t(
            "delivery.short",
            job.public_locale,
            mention=f"<@{job.user_id}>",
            job=job.id,
            task_id=job.task_id or "-",
        )
        try:
            message = await where.send(clip(text), allowed_mentions=self._mentions(job))
        except discord.HTTPException as again:
            return Delivery(outcome="permanent", error=f"Discord refused it ({again.status})")
        return Delivery(
            outcome="delivered", message_id=message.id, error=f"short notice ({exc.status})"
        )

    async def _video(self, job: Job, where: discord.PartialMessageable) -> Delivery:
        """The whole original is downloaded (up to `max_download_mb`); one over the member's
        upload limit is transcoded to fit, or replaced by a still frame when no playable
        video fits (`_fitted`). The original stays at the provider for `fetch-video`."""
        limit = job.filesize_limit
        cap = int(self.bot.config.file.tracking.max_download_mb * MB)
        mention = f"<@{job.user_id}>"
        # A transcode cut off by a stop may still be writing here while this is removed.
        with tempfile.TemporaryDirectory(prefix="storyboard-", ignore_cleanup_errors=True) as tmp:
            path = Path(tmp) / f"storyboard-{job.id}.mp4"
            try:
                size = await self.bot.tracker.download(job, path, max_bytes=cap)
            except ContentTooLarge:
                return await self._too_large(job, where)
            except NotFound:
                log.warning(
                    "job=%s task_id=%s: the provider no longer keeps the video", job.id, job.task_id
                )
                text = t("delivery.gone", job.public_locale, mention=mention, job=job.id)
                sent = await self._send(job, where, text)
                return sent.model_copy(update={"error": "video no longer at the provider"})
            except VideoApiError as exc:
                log.warning(
                    "job=%s task_id=%s: download failed (%s); will retry",
                    job.id,
                    job.task_id,
                    exc.key,
                )
                return Delivery(outcome="retry")
            s = job.storyboard.settings
            if size <= limit:
                text = t(
                    "delivery.done",
                    job.public_locale,
                    mention=mention,
                    task_id=job.task_id,
                    job=job.id,
                    seconds=s.seconds,
                    model=s.model,
                    size=human_size(size),
                )
                post = (text, discord.File(path, filename=path.name))
            else:
                try:
                    fitted = await self._fitted(job, path, size)
                except TranscoderBusy:
                    log.info("job=%s: every transcode slot is busy; will retry", job.id)
                    return Delivery(outcome="retry")
                if fitted is None:
                    return await self._too_large(job, where)
                post = fitted
            text, file = post
            if job.task_id is not None and is_sandbox_task(job.task_id):
                text = f"{text}\n{t('delivery.sandbox', job.public_locale)}"
            try:
                sent = await self._send(job, where, text, file=file, view=self._after_video(job))
            except discord.HTTPException as exc:
                if exc.status == 413 or exc.code in TOO_LARGE_CODES:
                    return await self._too_large(job, where)
                raise
            # After the post, so the member never waits on it; before the card's last edit.
            await self._keep_still(job, path)
            return sent

    async def _keep_still(self, job: Job, path: Path) -> None:
        """The card's still, made from the downloaded video while it is here, when the
        provider offers none (the card's edits attach it, `cogs.job_progress`). Decoration:
        it never waits for a busy transcoder, and a failure is logged, never raised, since
        the video is already posted and a raise would have it delivered again."""
        try:
            if self.bot.tracker.client_for(job).profile.allows("thumbnail"):
                return
        except StoryboardError:
            pass  # no key any more: the card cannot ask the provider either
        try:
            data = await self.bot.transcoder.thumbnail(
                path, STILL_MAX_BYTES, STILL_LONG_SIDE, wait=False
            )
            await self.bot.store.keep_still(job.id, STILL_NAME, data)
        except TranscoderBusy:
            log.info("job=%s: every transcode slot is busy; the card goes without a still", job.id)
        except Exception as exc:  # unreadable video, a still that cannot fit, the database
            log.warning("job=%s task_id=%s: no still for the card (%r)", job.id, job.task_id, exc)

    async def _fitted(self, job: Job, path: Path, size: int) -> tuple[str, discord.File] | None:
        """The text and file for a video over the member's limit: a copy transcoded to fit,
        else the middle frame with the plain reason; None when the file cannot be read."""
        limit = job.filesize_limit
        room = max(1, limit - MESSAGE_ROOM)
        s = job.storyboard.settings
        fields: dict[str, object] = {
            "mention": f"<@{job.user_id}>",
            "task_id": job.task_id,
            "job": job.id,
            "seconds": s.seconds,
            "model": s.model,
            "original": human_size(size),
            "limit": human_size(limit),
        }
        fitted = path.with_name(f"fitted-{job.id}.mp4")
        try:
            result = await self.bot.transcoder.fit(path, fitted, room)
        except CannotFit:
            log.info("job=%s: no playable video of it fits in %d bytes; a still", job.id, room)
        except Unreadable as exc:
            log.warning("job=%s task_id=%s: cannot read the video: %s", job.id, job.task_id, exc)
            return None
        else:
            text = t(
                "delivery.compressed",
                job.public_locale,
                size=human_size(result.size),
                resolution=f"{result.width}x{result.height}",
                **fields,
            )
            return clip(text), discord.File(fitted, filename=path.name)
        try:
            still = await self.bot.transcoder.still(path, max_bytes=room)
        except (CannotFit, Unreadable) as exc:
            log.warning("job=%s: no still frame fits either (%s)", job.id, exc)
            return None
        text = t("delivery.still", job.public_locale, **fields)
        return clip(text), discord.File(io.BytesIO(still), filename=f"storyboard-{job.id}.jpg")

    async def _too_large(self, job: Job, where: discord.PartialMessageable) -> Delivery:
        link = video_link(job)
        key = "delivery.too_large_link" if link else "delivery.too_large"
        text = t(
            key,
            job.public_locale,
            mention=f"<@{job.user_id}>",
            limit=human_size(job.filesize_limit),
            link=link,
            task_id=job.task_id,
            job=job.id,
        )
        return await self._send(job, where, text)

    def _after_video(self, job: Job) -> ui.View:
        """The finished job's buttons (`cogs.job_views` decides which)."""
        return video_view(job, self.bot.config.settings_for(job.guild_id).profile)
