"""Process-wide Prometheus metrics for the provider side, served by `bot.ops`.

One registry for the whole process (not prometheus-client's global one, so
nothing a library registers leaks in): the video API client records every HTTP
attempt it makes through `provider_attempt`. What describes one running bot
(gateway, store, tracker) is read at scrape time by `bot.ops` instead.
"""

from __future__ import annotations

import time
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

from bot.errors import StoryboardError

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

_LABELS = ("method", "route", "outcome")

PROVIDER_REQUESTS = Counter(
    "storyboard_provider_requests",
    "HTTP requests sent to the video provider (each retry counts), by outcome.",
    _LABELS,
    registry=REGISTRY,
)
PROVIDER_LATENCY = Histogram(
    "storyboard_provider_request_duration_seconds",
    "Time from sending a provider request to its whole answer (or failure).",
    _LABELS,
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=REGISTRY,
)
PROVIDER_ERRORS = Counter(
    "storyboard_provider_errors",
    "Provider requests that failed, by kind of failure.",
    ("method", "route", "kind"),
    registry=REGISTRY,
)


def error_kind(error: BaseException) -> str:
    """A short, fixed label for a failure: the error's catalogue key, refined by status."""
    if not isinstance(error, StoryboardError):
        return "error"
    kind = error.key.removeprefix("provider.")
    status = getattr(error, "status", None)
    if kind == "rejected" and status == 404:
        return "not_found"
    if kind == "down":
        if status is None:
            return "unreachable"
        return "server_error" if status >= 500 else "bad_answer"
    return kind


class ProviderAttempt:
    """One HTTP attempt: the clock starts when it is made; `ok` or `failed` records it once."""

    def __init__(self, method: str, route: str) -> None:
        self.method = method
        self.route = route
        self._started = time.perf_counter()
        self._recorded = False

    def ok(self, value: T) -> T:
        """Record a success and hand `value` back: `return attempt.ok(parse(answer))`."""
        self._record("ok")
        return value

    def failed(self, error: E) -> E:
        """Record a failure and hand `error` back: `raise attempt.failed(SomeError(...))`."""
        kind = error_kind(error)
        if self._record(kind):
            PROVIDER_ERRORS.labels(self.method, self.route, kind).inc()
        return error

    def _record(self, outcome: str) -> bool:
        if self._recorded:
            return False
        self._recorded = True
        elapsed = time.perf_counter() - self._started
        PROVIDER_REQUESTS.labels(self.method, self.route, outcome).inc()
        PROVIDER_LATENCY.labels(self.method, self.route, outcome).observe(elapsed)
        return True


def provider_attempt(method: str, route: str) -> ProviderAttempt:
    return ProviderAttempt(method, route)
