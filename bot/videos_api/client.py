"""The video API client: one aiohttp session per process, one pacer per key.

`create` is never re-sent once the request may have reached the provider:
a second paid job is worse than an error. Only an answer that proves nothing
was made (a 4xx) is a "no"; a 5xx, 408, 499, a timeout, a dropped connection
or an unreadable 2xx is `SubmissionUnknown`, because relays behind Cloudflare
or nginx answer 502/504/524 for creates they accepted. Reads (`retrieve`,
`list_videos`, downloads) retry 408/429/499/5xx and connection failures with
capped, jittered backoff. A 429 pauses the whole key (see `ratelimit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import json
import logging
import math
import random
import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
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
from bot.profiles import RELAY, ProviderProfile
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
from bot.videos_api.keys import key_fingerprint
from bot.videos_api.models import CreateVideoRequest, VideoJob
from bot.videos_api.ratelimit import (
    Clock,
    KeyPaused,
    PacerRegistry,
    RequestPacer,
    SharedPacing,
    Sleep,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# JSON answers are small; anything bigger is not a video object.
MAX_JSON_BYTES = 2 * 1024 * 1024
# Statuses after which a read may be asked again (429 is handled on its own).
RETRYABLE_STATUSES = frozenset({408, 429, 499})
MAX_IMAGE_UPLOADS = 8
USER_AGENT = "storyboard-bot/0.1 (+aiohttp)"
# A 429 that says "Retry-After: 0" still refused: asking again at once would spin.
MIN_RATE_LIMIT_PAUSE = 1.0
# A provider's sentence shown to a member is cut to this many characters.
MAX_MESSAGE_CHARS = 500
# A Retry-After beyond a day is a bug or a date in the wrong zone, not advice.
ABSURD_RETRY_AFTER = 86_400.0
UNKNOWN_STATUS_MEMORY = 10_000
LIST_PAGE = 100


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A Retry-After longer than this is handed to the caller instead of waited out.
    max_retry_after: float = 30.0
    # The longest a 429 pauses the key, whatever Retry-After says.
    max_pause: float = 600.0
    # The pause for a 429 without a usable Retry-After.
    rate_limit_pause: float = 30.0

    def backoff(self, attempt: int) -> float:
        delay: float = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * random.uniform(0.75, 1.0)


@dataclass
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


def _wait_seconds(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _retry_after(
    headers: Mapping[str, str], now: Callable[[], dt.datetime] | None = None
) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date).

    None when absent or unusable: inf, nan, negative, garbage, or beyond a day.
    """
    wait: float | None = None
    if (ms := headers.get("retry-after-ms")) is not None:
        value = _wait_seconds(ms)
        wait = None if value is None else value / 1000
    raw = headers.get("Retry-After")
    if wait is None and raw is not None:
        wait = _wait_seconds(raw)
        if wait is None:
            try:
                when = parsedate_to_datetime(raw.strip())
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            current = now() if now is not None else dt.datetime.now(dt.UTC)
            wait = max(0.0, (when - current).total_seconds())
    if wait is None or wait > ABSURD_RETRY_AFTER:
        return None
    return wait


def _cut(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` in at most `limit` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip() + "…"


_WHITESPACE = re.compile(r"\s+")
_HIDDEN_HTML = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _html_text(page: str) -> str:
    """A page's title, else its text without tags (Cloudflare's and nginx's error pages)."""
    page = _HIDDEN_HTML.sub(" ", page)
    title = _HTML_TITLE.search(page)
    if title is not None and (text := _collapse(html.unescape(_HTML_TAG.sub(" ", title[1])))):
        return text
    return _collapse(html.unescape(_HTML_TAG.sub(" ", page)))


def _words(value: Any) -> str | None:
    """Readable text from a JSON value: a string, or a list of them (FastAPI's `detail`)."""
    if isinstance(value, str):
        return _collapse(value) or None
    if isinstance(value, list):
        parts = [_words(item.get("msg") if isinstance(item, dict) else item) for item in value]
        return "; ".join(p for p in parts if p) or None
    return None


def _opt(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def _json_reason(data: Any) -> tuple[str | None, str | None, str | None]:
    """Message, param and code from the JSON error shapes relays send."""
    if isinstance(data, str):
        return _words(data), None, None
    if not isinstance(data, dict):
        return None, None, None
    error = data.get("error")
    if isinstance(error, dict):  # OpenAI: {"error": {"message", "type", "param", "code"}}
        for name in ("message", "msg", "detail"):
            if text := _words(error.get(name)):
                return text, _opt(error.get("param")), _opt(error.get("code"))
    if isinstance(error, str) and (text := _words(error)):  # {"error": "text"}
        return text, None, _opt(data.get("code"))
    # new-api {"code", "message", "data"}; {"msg"}; FastAPI {"detail"};
    # RFC 9457 problem+json {"title", "detail", "status", "type"}: detail before title.
    for name in ("message", "detail", "msg", "title", "error_description"):
        if text := _words(data.get(name)):
            return text, _opt(data.get("param")), _opt(data.get("code"))
    return None, None, None


def _error_message(
    body: bytes, status: int, content_type: str | None = None, secret: str | None = None
) -> tuple[str, str | None, str | None]:
    """The provider's own sentence, param and code, never raw JSON and never our key.

    The key is scrubbed from the whole body before anything reads or cuts it, so
    a key split by the cut cannot survive in part.
    """
    text = body.decode("utf-8", "replace")
    if secret:
        text = text.replace(secret, "****")
    stripped = text.strip()
    message: str | None = None
    param = code = None
    kind = (content_type or "").lower()
    if stripped[:1] in ("{", "[", '"') or "json" in kind:
        try:
            message, param, code = _json_reason(json.loads(stripped))
        except ValueError:
            message = None  # broken JSON is not a sentence
    elif "html" in kind or stripped[:1] == "<":
        message = _html_text(stripped) or None
    else:
        message = _collapse(stripped) or None
    if message is None:
        message = f"HTTP {status} without a reason"
    if secret:  # a JSON escape could have hidden it from the first pass
        message = message.replace(secret, "****")
    return _cut(message), param, code


def error_for(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None = None,
    create: bool = False,
    max_wait: float = RetryPolicy.max_pause,
) -> VideoApiError:
    """The typed error for a non-2xx answer.

    With `create`, only a 4xx says nothing was made; any other status is
    `SubmissionUnknown`. `max_wait` caps a 429's `retry_after`.
    """
    message, param, code = _error_message(body, status, headers.get("Content-Type"), secret)
    if status in (401, 403):
        return AuthFailed(status, message)
    if status == 429:
        wait = _retry_after(headers)
        return RateLimited(None if wait is None else min(wait, max_wait), message)
    unclear = status >= 500 or status in (408, 499) or status < 400
    if unclear and create:
        return SubmissionUnknown(f"HTTP {status}", status=status, message=message)
    if unclear:
        return ProviderDown(status, f"HTTP {status}", message)
    if status in (404, 410):
        return NotFound(status, message, param, code)
    return Rejected(status, message, param, code)


def _retryable(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise ProviderDown(resp.status, "answer too large")
        chunks.append(chunk)
    return b"".join(chunks)


class SeenIds:
    """The last `size` ids seen, oldest forgotten first: "log once per task" in bounded memory."""

    def __init__(self, size: int = UNKNOWN_STATUS_MEMORY) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> bool:
        """Remember `item`; True if it was not remembered already."""
        if item in self._ids:
            self._ids.move_to_end(item)
            return False
        self._ids[item] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)


def _request_key_of(video: VideoJob) -> str | None:
    """The `request` in a video's echoed `metadata` (a JSON string or an object)."""
    raw = (video.model_extra or {}).get("metadata")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, dict):
        return None
    value = raw.get("request")
    return None if value is None else str(value)


class ListRoutes:
    """Base URLs whose list route is missing: 404/405 `MISSES_TO_FORGET` times in a row
    (new-api relays have none; one 404 may be a relay hiccup, and taking it for "no list
    route" would give up on every lost create there)."""

    MISSES_TO_FORGET = 3

    def __init__(self) -> None:
        self._misses: dict[str, int] = {}
        self._missing: set[str] = set()

    def __contains__(self, base: object) -> bool:
        return base in self._missing

    def missed(self, base: str) -> bool:
        """One more 404/405; True once the route counts as missing."""
        self._misses[base] = self._misses.get(base, 0) + 1
        if self._misses[base] >= self.MISSES_TO_FORGET:
            self._missing.add(base)
        return base in self._missing

    def found(self, base: str) -> None:
        self._misses.pop(base, None)


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
        lists_missing: ListRoutes | None = None,
        unknown_statuses: SeenIds | None = None,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/") + "/"
        self._key = api_key
        self.profile = profile
        self._timeout = timeout_seconds
        self._pacer = pacer
        self._retry = retry or RetryPolicy()
        self._image_slots = image_slots or asyncio.Semaphore(MAX_IMAGE_UPLOADS)
        # Shared through `VideoApi`: base URLs whose list route keeps answering 404/405.
        self._lists_missing = lists_missing if lists_missing is not None else ListRoutes()
        self._unknown_statuses = unknown_statuses or SeenIds()

    @property
    def fingerprint(self) -> str:
        """This client's key, as `key_fingerprint` names it (safe to store)."""
        return key_fingerprint(self._key)

    @property
    def can_list(self) -> bool:
        """False when the profile has no list route or the provider showed it has none."""
        return (
            self.profile.list_path is not None and _base_key(self._base) not in self._lists_missing
        )

    def _url(self, template: str, video_id: str | None = None) -> str:
        path = template.format(id=video_id) if video_id is not None else template
        return self._base + path

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._key.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    async def _error(
        self, status: int, headers: CIMultiDictProxy[str], body: bytes, *, create: bool
    ) -> VideoApiError:
        """The typed error for an answer, scrubbed of our key; a 429 pauses the key (in
        every process sharing it: the pause is recorded before the error is raised)."""
        error = error_for(
            status,
            headers,
            body,
            secret=self._key.get_secret_value(),
            create=create,
            max_wait=self._retry.max_pause,
        )
        if isinstance(error, RateLimited):
            wait = error.retry_after
            await self._pacer.pause(
                max(wait, MIN_RATE_LIMIT_PAUSE)
                if wait is not None
                else self._retry.rate_limit_pause
            )
        elif status == 503 and (wait := _retry_after(headers)) is not None:
            await self._pacer.pause(min(wait, self._retry.max_pause))
        return error

    async def _take_turn(self) -> None:
        """Wait for the key's next start; a pause longer than we wait by ourselves (known
        here, or learnt from the fleet while waiting) is said without a request."""
        paused = self._pacer.paused_for()
        if paused > self._retry.max_retry_after:
            raise RateLimited(paused)
        try:
            await self._pacer.wait(refuse_over=self._retry.max_retry_after)
        except KeyPaused as exc:
            raise RateLimited(exc.seconds) from None

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

        `parse` reads a 2xx answer; an unreadable one counts as a failed attempt
        (for a non-idempotent request it is `SubmissionUnknown`: the provider did
        answer 2xx, so the job likely exists).
        """
        attempt = 0
        while True:
            attempt += 1
            await self._take_turn()
            error: VideoApiError
            retry_after: float | None = None
            paused = False
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
            except ProviderDown as exc:  # an answer too large to read
                if not idempotent:
                    raise seen.failed(SubmissionUnknown(exc.detail, status=exc.status)) from None
                error, retryable = exc, True
            else:
                if 200 <= answer.status < 300:
                    try:
                        return seen.ok(parse(answer))
                    except (ValueError, ValidationError, AttributeError, TypeError, KeyError):
                        if not idempotent:
                            raise seen.failed(
                                SubmissionUnknown("unreadable answer", status=answer.status)
                            ) from None
                        error, retryable = ProviderDown(answer.status, "unreadable answer"), True
                else:
                    error = await self._error(
                        answer.status, answer.headers, answer.body, create=not idempotent
                    )
                    retry_after = _retry_after(answer.headers)
                    if isinstance(error, RateLimited):
                        # Nothing was taken, so create may go again; the pacer waits the pause.
                        retryable, paused = True, True
                        retry_after = (
                            max(error.retry_after, MIN_RATE_LIMIT_PAUSE)
                            if error.retry_after is not None
                            else self._retry.rate_limit_pause
                        )
                    else:
                        retryable = idempotent and _retryable(answer.status)
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
            if not paused:
                await asyncio.sleep(delay)

    def _note(self, job: VideoJob) -> VideoJob:
        """Log a status word we do not know, once per task id."""
        if not job.status_known and self._unknown_statuses.add(job.id):
            log.warning(
                "task_id=%s unknown provider status %r; treated as in_progress",
                job.id,
                job.raw_status,
            )
        return job

    def _job(self, answer: _Answer) -> VideoJob:
        return self._note(VideoJob.model_validate_json(answer.body))

    def _jobs(self, answer: _Answer) -> list[VideoJob]:
        data = json.loads(answer.body)
        items = data.get("data", []) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError("a list answer without a list")
        return [self._note(VideoJob.model_validate(item)) for item in items]

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
        """One page of the key's videos, newest first.

        Raises `NotSupported` where there is no list route: the profile has
        none, or the provider answered 404/405 to it (new-api relays), which
        is remembered per base URL so later calls do not ask again.
        """
        if not self.can_list or self.profile.list_path is None:
            raise NotSupported("list", self.profile.name)
        params = {"limit": str(limit), "order": "desc"}
        if after is not None:
            params["after"] = after
        url = self._url(self.profile.list_path)
        base = _base_key(self._base)
        try:
            page = await self._send(
                "GET", url, idempotent=True, parse=self._jobs, params=params, route="list"
            )
        except Rejected as exc:
            if exc.status not in (404, 405) or not self._lists_missing.missed(base):
                raise  # one 404 may be a hiccup: a failed look, not "no list route"
            log.info("the provider at %s has no list route (HTTP %d)", self._base, exc.status)
            raise NotSupported("list", self.profile.name) from None
        self._lists_missing.found(base)
        return page

    async def find_by_metadata(
        self, request_key: str | Collection[str], *, pages: int = 4
    ) -> VideoJob | None:
        """The video whose echoed `metadata` has `"request": request_key` (or any of several
        keys), or None.

        Looks through at most `pages` pages of 100, newest first. Raises
        `NotSupported` where the provider cannot list.
        """
        wanted = {request_key} if isinstance(request_key, str) else set(request_key)
        after: str | None = None
        for _ in range(pages):
            page = await self.list_videos(limit=LIST_PAGE, after=after)
            for video in page:
                if _request_key_of(video) in wanted:
                    return video
            if len(page) < LIST_PAGE:
                return None
            after = page[-1].id
        return None

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
        path = (
            self.profile.list_path
            if self.can_list and self.profile.list_path is not None
            else self.profile.retrieve_path.format(id="ping")
        )
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
        """Stream the video to `dest` (never whole into memory); returns its size.

        `NotFound` (404/410, not retried) means the provider no longer keeps the
        video; 5xx and timeouts are retried, then raise `ProviderDown`/`ProviderTimeout`.
        """
        url = self._url(self.profile.content_path, video_id)
        params = {"variant": variant} if variant else None
        attempt = 0
        while True:
            attempt += 1
            await self._take_turn()
            seen = metrics.provider_attempt("GET", "content")  # metrics: one per HTTP attempt
            try:
                return seen.ok(await self._download_once(url, params, dest, max_bytes))
            except (ProviderDown, ProviderTimeout, RateLimited) as error:
                seen.failed(error)
                if attempt >= self._retry.attempts:
                    raise
                limited = isinstance(error, RateLimited)
                wait = error.retry_after if isinstance(error, RateLimited) else None
                if limited and wait is None:
                    wait = self._retry.rate_limit_pause
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
                if not limited:  # after a 429 the pacer waits out the key's pause
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
                    raise await self._error(resp.status, resp.headers, body, create=False)
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


def _base_key(base_url: str) -> str:
    return base_url.rstrip("/")


@dataclass(frozen=True)
class _KnownKey:
    """A key seen this process, with where it was used; held in memory only."""

    api_key: SecretStr
    base_url: str
    profile: ProviderProfile


class VideoApi:
    """The process-wide entry point: one session, one pacer per key.

    It also remembers, for this process only, which base URLs have no list
    route and which keys (by fingerprint) it has been given, so a job can be
    followed with the key that made it after an admin changes the guild's key.
    `clock`/`sleep` drive the pacers (a simulation injects fake ones). With
    `shared_pacing` (a fleet over PostgreSQL: `Store.key_pacing()`), a key's ceiling
    and pauses hold for every process using it.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        retry: RetryPolicy | None = None,
        max_image_uploads: int = MAX_IMAGE_UPLOADS,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        shared_pacing: SharedPacing | None = None,
    ) -> None:
        self._session = session
        self._pacers = PacerRegistry(clock=clock, sleep=sleep, shared=shared_pacing)
        self._retry = retry
        # Images are held in memory while they upload: bound how many at once.
        self.image_slots = asyncio.Semaphore(max_image_uploads)
        self._lists_missing = ListRoutes()
        self._unknown_statuses = SeenIds()
        self._keys: dict[str, _KnownKey] = {}
        # Makes the client of a guild on the "sandbox" profile (`bot.videos_api.sandbox`;
        # given by the bot, which has the renderer and the store it needs).
        self.sandbox: Callable[[GuildSettings], VideoClient] | None = None

    def lists_unsupported(self, base_url: str) -> bool:
        """Whether the provider at `base_url` answered 404/405 to the list route."""
        return _base_key(base_url) in self._lists_missing

    def remember(self, settings: GuildSettings) -> str | None:
        """Keep the guild's key under its fingerprint (which it returns) for this process."""
        if settings.api_key is None:
            return None
        fingerprint = key_fingerprint(settings.api_key)
        self._keys[fingerprint] = _KnownKey(settings.api_key, settings.base_url, settings.profile)
        return fingerprint

    def client_for(self, settings: GuildSettings) -> VideoClient:
        """A client using this guild's own key; refuses a guild that has none. A sandbox
        guild needs none: its client answers in-process."""
        if settings.is_sandbox:
            return self.sandbox_client(settings)
        if settings.api_key is None:
            raise StoryboardError("guild.no_key")
        self.remember(settings)
        return self._client(settings.api_key, settings.base_url, settings.profile, settings)

    def sandbox_client(self, settings: GuildSettings) -> VideoClient:
        if self.sandbox is None:
            raise NotSupported("sandbox", settings.profile.name)
        return self.sandbox(settings)

    def client_for_fingerprint(self, fingerprint: str, fallback: GuildSettings) -> VideoClient:
        """A client with the key `fingerprint` names, where and as it was used when
        remembered; the fallback guild's own client when this process never saw it.

        A guild moved to the sandbox may still hold the key (`api_key`, or listed in
        `previous_api_keys`) that made a paid job before the move: that job is followed
        with it at the guild's `base_url`, never by the sandbox client, whose "no such
        video" would leave the paid video undelivered, or called gone. It is used with
        the relay profile, the bot's usual one: the sandbox's has no list route, and a
        create whose answer was lost could then not be looked up (the member would be
        asked to send it again). The profile a job was made with is not stored."""
        known = self._keys.get(fingerprint)
        if known is None:
            # Rotated away, kept in the config; or a sandbox guild's key, kept for later.
            kept = (fallback.api_key,) if fallback.is_sandbox and fallback.base_url else ()
            profile = RELAY if fallback.is_sandbox else fallback.profile
            for key in (*fallback.previous_api_keys, *kept):
                if key is not None and key_fingerprint(key) == fingerprint:
                    return self._client(key, fallback.base_url, profile, fallback)
            return self.client_for(fallback)
        return self._client(known.api_key, known.base_url, known.profile, fallback)

    def _client(
        self,
        api_key: SecretStr,
        base_url: str,
        profile: ProviderProfile,
        settings: GuildSettings,
    ) -> VideoClient:
        return VideoClient(
            self._session,
            base_url=base_url,
            api_key=api_key,
            profile=profile,
            timeout_seconds=settings.timeout_seconds,
            pacer=self._pacers.for_key(
                api_key.get_secret_value(), settings.max_requests_per_second
            ),
            retry=self._retry,
            image_slots=self.image_slots,
            lists_missing=self._lists_missing,
            unknown_statuses=self._unknown_statuses,
        )
