"""The video API client: one aiohttp session per process, one pacer per key.

`create` is never re-sent once the request may have reached the provider:
a second paid job is worse than an error. Reads (`retrieve`, `list_videos`,
downloads) retry 408/429/5xx and connection failures with capped, jittered
backoff, honouring `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from multidict import CIMultiDictProxy
from pydantic import SecretStr, ValidationError

from bot import metrics
from bot.config import GuildSettings
from bot.errors import StoryboardError
from bot.profiles import ProviderProfile
from bot.videos_api.errors import (
    AuthFailed,
    ContentTooLarge,
    NotFound,
    NotSupported,
    ProviderDown,
    ProviderTimeout,
    RateLimited,
    Rejected,
    SubmissionUnknown,
    VideoApiError,
)
from bot.videos_api.models import CreateVideoRequest, VideoJob
from bot.videos_api.ratelimit import PacerRegistry, RequestPacer

log = logging.getLogger(__name__)
T = TypeVar("T")

# JSON answers are small; anything bigger is not a video object.
MAX_JSON_BYTES = 2 * 1024 * 1024
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_IMAGE_UPLOADS = 8
USER_AGENT = "storyboard-bot/0.1 (+aiohttp)"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A Retry-After longer than this is handed to the caller instead of waited out.
    max_retry_after: float = 30.0

    def backoff(self, attempt: int) -> float:
        delay: float = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * random.uniform(0.75, 1.0)


@dataclass
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


def _retry_after(headers: CIMultiDictProxy[str]) -> float | None:
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _error_message(body: bytes) -> tuple[str, str | None, str | None]:
    """The provider's own message, param and code from an OpenAI-style error body."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:300] or "no message", None, None)
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        message = error.get("message") or error.get("msg") or json.dumps(error)[:300]
        param, code = error.get("param"), error.get("code")
        return (
            str(message)[:500],
            None if param is None else str(param),
            None if code is None else str(code),
        )
    return (str(error)[:500], None, None)


def error_for(status: int, headers: CIMultiDictProxy[str], body: bytes) -> VideoApiError:
    """The typed error for a non-2xx answer."""
    if status in (401, 403):
        return AuthFailed(status)
    if status == 429:
        return RateLimited(_retry_after(headers))
    if status >= 500:
        return ProviderDown(status)
    message, param, code = _error_message(body)
    if status == 404:
        return NotFound(status, message, param, code)
    return Rejected(status, message, param, code)


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise ProviderDown(resp.status, "answer too large")
        chunks.append(chunk)
    return b"".join(chunks)


class VideoClient:
    """Requests for one guild's key against one provider profile."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        profile: ProviderProfile,
        timeout_seconds: float,
        pacer: RequestPacer,
        retry: RetryPolicy | None = None,
        image_slots: asyncio.Semaphore | None = None,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/") + "/"
        self._key = api_key
        self.profile = profile
        self._timeout = timeout_seconds
        self._pacer = pacer
        self._retry = retry or RetryPolicy()
        self._image_slots = image_slots or asyncio.Semaphore(MAX_IMAGE_UPLOADS)

    def _url(self, template: str, video_id: str | None = None) -> str:
        path = template.format(id=video_id) if video_id is not None else template
        return self._base + path

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._key.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    async def _send(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        parse: Callable[[_Answer], T],
        data: Callable[[], Any] | None = None,
        params: dict[str, str] | None = None,
        route: str = "other",
    ) -> T:
        """One logical request, retried as the policy and idempotency allow.

        `parse` reads a 2xx answer; an unreadable one counts as a failed attempt.
        """
        attempt = 0
        while True:
            attempt += 1
            await self._pacer.wait()
            error: VideoApiError
            retry_after: float | None = None
            seen = metrics.provider_attempt(method, route)  # metrics: one per HTTP attempt
            try:
                async with self._session.request(
                    method,
                    url,
                    headers=self._headers(),
                    data=data() if data is not None else None,
                    params=params,
                    timeout=aiohttp.ClientTimeout(
                        total=self._timeout, connect=min(10.0, self._timeout)
                    ),
                ) as resp:
                    answer = _Answer(
                        resp.status, resp.headers, await _read_bounded(resp, MAX_JSON_BYTES)
                    )
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # Never connected: nothing reached the provider, so even create may retry.
                error, retryable = ProviderDown(None, type(exc).__name__), True
            except TimeoutError:
                if not idempotent:
                    raise seen.failed(
                        SubmissionUnknown("timed out waiting for the answer")
                    ) from None
                error, retryable = ProviderTimeout(self._timeout), True
            except aiohttp.ClientError as exc:
                if not idempotent:
                    raise seen.failed(SubmissionUnknown(type(exc).__name__)) from None
                error, retryable = ProviderDown(None, type(exc).__name__), True
            else:
                if 200 <= answer.status < 300:
                    try:
                        return seen.ok(parse(answer))
                    except (ValueError, ValidationError, AttributeError, TypeError):
                        if not idempotent:
                            raise seen.failed(SubmissionUnknown("unreadable answer")) from None
                        error, retryable = ProviderDown(answer.status, "unreadable answer"), True
                else:
                    error = self._scrubbed(error_for(answer.status, answer.headers, answer.body))
                    retry_after = _retry_after(answer.headers)
                    # A 429 means the provider did not take the request: safe for create too.
                    retryable = answer.status in RETRYABLE_STATUSES and (
                        idempotent or answer.status == 429
                    )
            seen.failed(error)
            if not retryable or attempt >= self._retry.attempts:
                raise error
            delay = retry_after if retry_after is not None else self._retry.backoff(attempt)
            if delay > self._retry.max_retry_after:
                raise error
            log.warning(
                "provider %s %s failed (%s), retry %d in %.1fs",
                method,
                url.removeprefix(self._base),
                error.key,
                attempt,
                delay,
            )
            await asyncio.sleep(delay)

    def _scrubbed(self, error: VideoApiError) -> VideoApiError:
        """A provider's message is shown to members: never with our key in it."""
        key = self._key.get_secret_value()
        if isinstance(error, Rejected) and key and key in error.message:
            clean = error.message.replace(key, "****")
            scrubbed = type(error)(error.status, clean, error.param, error.code)
            return scrubbed
        return error

    @staticmethod
    def _job(answer: _Answer) -> VideoJob:
        return VideoJob.model_validate_json(answer.body)

    @staticmethod
    def _jobs(answer: _Answer) -> list[VideoJob]:
        data = json.loads(answer.body)
        items = data.get("data", []) if isinstance(data, dict) else data
        return [VideoJob.model_validate(item) for item in items]

    async def create(self, request: CreateVideoRequest) -> VideoJob:
        """Submit one job. Raises `SubmissionUnknown` when it may or may not exist now."""
        fields = request.form_fields(self.profile)
        image = request.input_reference

        def form() -> aiohttp.FormData:
            # Built anew per attempt: aiohttp consumes a FormData once.
            data = aiohttp.FormData(default_to_multipart=True)
            for name, value in fields:
                data.add_field(name, value)
            if image is not None:
                data.add_field(
                    "input_reference",
                    image.data,
                    filename=image.filename,
                    content_type=image.content_type,
                )
            return data

        url = self._url(self.profile.create_path)
        async with self._image_slots if image is not None else contextlib.nullcontext():
            job = await self._send(
                "POST", url, idempotent=False, parse=self._job, data=form, route="create"
            )
        log.info(
            "created task_id=%s model=%s seconds=%s status=%s",
            job.id,
            job.model,
            job.seconds,
            job.status,
        )
        return job

    async def poll(self, video_id: str) -> tuple[VideoJob, float | None]:
        """The job and the provider's hint, in seconds, for when to ask again."""

        def parse(answer: _Answer) -> tuple[VideoJob, float | None]:
            hint = answer.headers.get("openai-poll-after-ms")
            try:
                after = float(hint) / 1000 if hint is not None else None
            except ValueError:
                after = None
            return self._job(answer), after

        url = self._url(self.profile.retrieve_path, video_id)
        return await self._send("GET", url, idempotent=True, parse=parse, route="retrieve")

    async def retrieve(self, video_id: str) -> VideoJob:
        url = self._url(self.profile.retrieve_path, video_id)
        return await self._send("GET", url, idempotent=True, parse=self._job, route="retrieve")

    async def list_videos(self, *, limit: int = 20, after: str | None = None) -> list[VideoJob]:
        if self.profile.list_path is None:
            raise NotSupported("list", self.profile.name)
        params = {"limit": str(limit), "order": "desc"}
        if after is not None:
            params["after"] = after
        url = self._url(self.profile.list_path)
        return await self._send(
            "GET", url, idempotent=True, parse=self._jobs, params=params, route="list"
        )

    async def delete(self, video_id: str) -> None:
        if self.profile.delete_path is None:
            raise NotSupported("delete", self.profile.name)
        url = self._url(self.profile.delete_path, video_id)
        await self._send("DELETE", url, idempotent=True, parse=lambda answer: None, route="delete")
        log.info("deleted task_id=%s", video_id)

    async def remix(self, video_id: str, prompt: str) -> VideoJob:
        if self.profile.remix_path is None:
            raise NotSupported("remix", self.profile.name)

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData(default_to_multipart=True)
            data.add_field("prompt", prompt)
            return data

        url = self._url(self.profile.remix_path, video_id)
        job = await self._send(
            "POST", url, idempotent=False, parse=self._job, data=form, route="remix"
        )
        log.info("remix task_id=%s from task_id=%s", job.id, video_id)
        return job

    async def ping(self) -> None:
        """Check the key: raises `AuthFailed`, `ProviderDown`...; a 404 still proves the key."""
        path = self.profile.list_path or self.profile.retrieve_path.format(id="ping")
        try:
            await self._send(
                "GET",
                self._url(path),
                idempotent=True,
                parse=lambda a: None,
                params={"limit": "1"},
                route="ping",
            )
        except (NotFound, Rejected):
            return

    async def download_content(
        self, video_id: str, dest: Path, *, max_bytes: int, variant: str | None = None
    ) -> int:
        """Stream the video to `dest` (never whole into memory); returns its size."""
        url = self._url(self.profile.content_path, video_id)
        params = {"variant": variant} if variant else None
        attempt = 0
        while True:
            attempt += 1
            await self._pacer.wait()
            seen = metrics.provider_attempt("GET", "content")  # metrics: one per HTTP attempt
            try:
                return seen.ok(await self._download_once(url, params, dest, max_bytes))
            except (ProviderDown, ProviderTimeout, RateLimited) as error:
                seen.failed(error)
                if attempt >= self._retry.attempts:
                    raise
                wait = error.retry_after if isinstance(error, RateLimited) else None
                delay = wait if wait is not None else self._retry.backoff(attempt)
                if delay > self._retry.max_retry_after:
                    raise
                log.warning(
                    "download task_id=%s failed (%s), retry %d in %.1fs",
                    video_id,
                    error.key,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)
            except VideoApiError as error:
                seen.failed(error)
                raise

    async def _download_once(
        self, url: str, params: dict[str, str] | None, dest: Path, max_bytes: int
    ) -> int:
        timeout = aiohttp.ClientTimeout(
            total=None, connect=min(10.0, self._timeout), sock_read=self._timeout
        )
        try:
            async with self._session.get(
                url, headers=self._headers(), params=params, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    body = await _read_bounded(resp, MAX_JSON_BYTES)
                    raise self._scrubbed(error_for(resp.status, resp.headers, body))
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise ContentTooLarge(max_bytes)
                size = 0
                with dest.open("wb") as fh:
                    async for chunk in resp.content.iter_chunked(256 * 1024):
                        size += len(chunk)
                        if size > max_bytes:
                            raise ContentTooLarge(max_bytes)
                        fh.write(chunk)
                return size
        except TimeoutError:
            raise ProviderTimeout(self._timeout) from None
        except aiohttp.ClientError as exc:
            raise ProviderDown(None, type(exc).__name__) from None
        except ContentTooLarge:
            await asyncio.to_thread(dest.unlink, missing_ok=True)
            raise


class VideoApi:
    """The process-wide entry point: one session, one pacer per key."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        retry: RetryPolicy | None = None,
        max_image_uploads: int = MAX_IMAGE_UPLOADS,
    ) -> None:
        self._session = session
        self._pacers = PacerRegistry()
        self._retry = retry
        # Images are held in memory while they upload: bound how many at once.
        self.image_slots = asyncio.Semaphore(max_image_uploads)

    def client_for(self, settings: GuildSettings) -> VideoClient:
        """A client using this guild's own key; refuses a guild that has none."""
        if settings.api_key is None:
            raise StoryboardError("guild.no_key")
        key = settings.api_key.get_secret_value()
        return VideoClient(
            self._session,
            base_url=settings.base_url,
            api_key=settings.api_key,
            profile=settings.profile,
            timeout_seconds=settings.timeout_seconds,
            pacer=self._pacers.for_key(key, settings.max_requests_per_second),
            retry=self._retry,
            image_slots=self.image_slots,
        )
