"""Typed failures of the video API, each one a thing a member can be told plainly.

`key` names the catalogue message; fields fill it in. Provider messages are
kept (they are what the member needs to fix a prompt), keys never are.
"""

from __future__ import annotations

from bot.errors import StoryboardError


class VideoApiError(StoryboardError):
    """Base of every video API failure."""


class AuthFailed(VideoApiError):
    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__("provider.auth_failed", status=status)
        self.status = status
        self.message = message


class RateLimited(VideoApiError):
    """429, or the key is paused after one: `retry_after` is the wait left, if known."""

    def __init__(self, retry_after: float | None, message: str | None = None) -> None:
        wait = max(1, round(retry_after)) if retry_after is not None else 30
        super().__init__("provider.rate_limited", wait=wait)
        self.retry_after = retry_after
        self.message = message


class Rejected(VideoApiError):
    """The provider read the request and refused it (4xx other than auth and 429)."""

    def __init__(self, status: int, message: str, param: str | None, code: str | None) -> None:
        super().__init__(
            "provider.rejected", status=status, message=message, param=param or "-", code=code
        )
        self.status = status
        self.message = message
        self.param = param
        self.code = code


class NotFound(Rejected):
    pass


class KeyGone(VideoApiError):
    """The job was made with a key this process no longer has (rotated and dropped, or its
    server moved to the sandbox without it): the client it has instead answers 404 for a
    task it never made, which says nothing about the job. Passing: the key may come back
    (`previous_api_keys`)."""

    def __init__(self) -> None:
        super().__init__("provider.key_gone")


class ProviderDown(VideoApiError):
    """5xx, a broken answer, or no connection: the provider is not working now.

    `message` is the provider's own sentence (scrubbed and cut), when it gave one.
    """

    def __init__(
        self, status: int | None = None, detail: str = "", message: str | None = None
    ) -> None:
        super().__init__("provider.down", status=status or "-")
        self.status = status
        self.detail = detail
        self.message = message


class ProviderTimeout(VideoApiError):
    def __init__(self, seconds: float) -> None:
        super().__init__("provider.timeout", seconds=round(seconds))
        self.seconds = seconds


class SubmissionUnknown(VideoApiError):
    """The create request may have reached the provider, but no answer came back.

    Re-sending could pay twice, so the caller must look the job up (by its
    metadata, where the provider lists jobs) or ask the member. A 5xx, 408 or
    499 answer to a create is this too: proxies (Cloudflare, nginx) answer
    502/504/524 for requests the relay behind them accepted.

    `detail` names what happened ("HTTP 524", "timed out waiting for the
    answer", "ServerDisconnectedError", "unreadable answer"); `status` is the
    HTTP status if one came; `message` the provider's sentence, if any.
    """

    def __init__(
        self, detail: str, *, status: int | None = None, message: str | None = None
    ) -> None:
        super().__init__("provider.submission_unknown")
        self.detail = detail
        self.status = status
        self.message = message


class ContentTooLarge(VideoApiError):
    def __init__(self, limit: int) -> None:
        super().__init__("provider.content_too_large", limit_mb=round(limit / 1048576, 1))
        self.limit = limit


class NotSupported(VideoApiError):
    def __init__(self, operation: str, profile: str) -> None:
        super().__init__("provider.not_supported", operation=operation, profile=profile)
