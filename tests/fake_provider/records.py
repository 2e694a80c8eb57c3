"""What the fake provider remembers about each request, and the faults tests queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Route = Literal["create", "retrieve", "content", "list", "delete", "remix", "unknown"]
FaultRoute = Literal["create", "retrieve", "content", "list", "delete", "remix", "any"]
FaultKind = Literal[
    "status",
    "accept_then_status",
    "slow",
    "hold",
    "bad_json",
    "drop",
    "drop_after_read",
    "truncate",
]


class Headers(dict[str, str]):
    """A plain dict of request headers whose lookups ignore case.

    Keys keep the spelling the client sent; `headers["authorization"]` and
    `headers["Authorization"]` both work.
    """

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__(items or {})
        self._lower = {name.lower(): name for name in self}

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(self._lower.get(name.lower(), name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lower

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(self._lower.get(name.lower(), name), default)

    def __repr__(self) -> str:
        shown = {k: ("<hidden>" if k.lower() == "authorization" else v) for k, v in self.items()}
        return f"Headers({shown!r})"


@dataclass(frozen=True)
class RecordedFile:
    """One file part of a multipart body."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"RecordedFile(filename={self.filename!r}, content_type={self.content_type!r}, "
            f"size={len(self.data)})"
        )


@dataclass
class RecordedRequest:
    """One request as the fake provider received it (faulted ones included).

    `key` is the bearer token the request carried (None without one); the
    Authorization header is kept in `headers` too. Neither is shown by `repr`.
    `valid`/`errors` are the contract check of a create or remix body (always
    True/[] for other routes). `fault` names the injected fault kind that
    answered the request, `status` the HTTP status sent (None if the
    connection was dropped), `job_id` the job a create or remix made.
    `arrived_at` is `time.monotonic()` when the request's head was read: real
    time (not the fake clock), to measure a key's requests per second. `sender`
    names the client that sent it, when the test told the provider how to tell
    (`FakeProvider.sender_of`: tests/processes.py knows its bot processes).
    """

    method: str
    path: str
    route: Route
    query: dict[str, str]
    headers: Headers = field(repr=False)
    key: str | None = field(repr=False)
    content_type: str | None
    body: bytes = field(repr=False)
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, RecordedFile] = field(default_factory=dict)
    json: Any = None
    valid: bool = True
    errors: list[str] = field(default_factory=list)
    fault: FaultKind | None = None
    status: int | None = None
    job_id: str | None = None
    arrived_at: float = field(default_factory=time.monotonic)
    sender: str | None = None


@dataclass
class Fault:
    """A misbehaviour queued with `FakeProvider.inject`.

    Faults are consumed in the order they were injected, each by the next
    `times` requests whose route matches (`"any"` matches every route). With
    `variant` narrows a fault to content requests for that variant (`video` when the
    request names none), e.g. a thumbnail that fails while the video downloads. With
    `window` (fake-clock seconds), a fault instead answers every matching
    request from its first use until the fake clock has moved `window`
    seconds past it (`times` is then ignored): a 429 storm with
    `Retry-After: 60` for a minute is `Fault(status=429, retry_after=60, window=60)`.

    - `status`: answer `status` at once (no job is created), with `body`
      (a dict is sent as JSON, in `content_type` if given, else
      application/json; str/bytes as they are, in `content_type`) or an
      OpenAI-style error body; `retry_after` adds a `Retry-After` header.
      `forms` has the other shapes relays use: `newapi_error_body`,
      `problem_body` (with `PROBLEM_JSON`), `html_error_page`; a str body is
      plain text.
    - `accept_then_status`: carry out the request (a create makes its job),
      then answer `status` as `status` does: a proxy (Cloudflare, nginx) in
      front of a relay that accepted the create answering 502/504/524.
    - `slow`: really sleep `delay` seconds, then answer normally (the request
      is still carried out, even if the client gave up meanwhile).
    - `hold`: wait until the test calls `release()` (or the provider closes),
      then answer as `slow` does: a download that lasts exactly as long as the
      test needs, whatever the machine's load. With `answer`, the held request is
      then answered that status as `status` does instead (nothing done): a refusal
      that comes exactly when the test says.
    - `bad_json`: carry out the request (a create makes its job), then answer
      200 `application/json` with a truncated, unparseable body.
    - `drop`: close the connection without any response (nothing is done).
    - `drop_after_read`: carry out the request (a create makes its job), then
      close the connection without a response.
    - `truncate`: send the status line, headers and the full Content-Length,
      then only half the body, then close (content downloads see a payload error).
    """

    route: FaultRoute = "any"
    kind: FaultKind = "status"
    times: int = 1
    status: int = 500
    retry_after: int | None = None
    body: dict[str, Any] | str | bytes | None = None
    content_type: str | None = None
    delay: float = 0.0
    window: float | None = None
    variant: str | None = None
    answer: int | None = None
    remaining: int = field(init=False, repr=False)
    # Fake-clock time of the first use of a `window` fault.
    started_at: float | None = field(default=None, init=False, repr=False)
    # Set by `release()`: the requests a `hold` fault keeps waiting go on.
    released: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.route not in get_args(FaultRoute):
            raise ValueError(f"unknown fault route {self.route!r}")
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.times < 1:
            raise ValueError("a fault applies at least once")
        if self.delay < 0:
            raise ValueError("delay must not be negative")
        if self.window is not None and self.window <= 0:
            raise ValueError("a window must be positive")
        self.remaining = self.times

    def release(self) -> None:
        """Let the requests a `hold` fault keeps (and any it takes later) be answered."""
        self.released.set()

    def applies_to(self, route: Route, variant: str | None = None) -> bool:
        """Whether the fault is for this route (and content variant), used up or not."""
        if self.route not in ("any", route):
            return False
        return self.variant is None or (route == "content" and self.variant == variant)

    def matches(self, route: Route, variant: str | None = None) -> bool:
        return self.remaining > 0 and self.applies_to(route, variant)

    def over(self, now: float) -> bool:
        """Whether a `window` fault's window has passed on the fake clock."""
        return (
            self.window is not None
            and self.started_at is not None
            and now >= self.started_at + self.window
        )
