"""What the fake remembers of each request, and failures a test asks it to inject."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KNOWN_ERRORS: dict[int, str] = {
    0: "General error",
    10003: "Unknown Channel",
    10008: "Unknown Message",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50005: "Cannot edit a message authored by another user",
    50013: "Missing Permissions",
    50027: "Invalid Webhook Token",
    50035: "Invalid Form Body",
    30046: "Maximum number of edits to messages older than 1 hour reached. Try again later.",
    160004: "A thread has already been created for this message",
}


@dataclass
class RecordedCall:
    """One HTTP request the bot made to the fake.

    `path` has no /api/v10 prefix and no query; `route` is "METHOD /template" with the
    template as Discord's OpenAPI spells it (None for a route the fake does not know);
    `json` is the JSON body, or the `payload_json` part of a multipart body; `files` are
    the uploaded `files[N]` parts. `validated` says the body was checked against the
    spec; `valid` is False when the spec or the fake's extra limits refused it, with
    `errors` saying why. `sender` names the client that made it, when the test told the
    fake how to tell (`FakeDiscord.sender_of`: tests/processes.py knows its processes).
    """

    method: str
    path: str
    route: str | None
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    validated: bool = False
    valid: bool = True
    errors: list[str] = field(default_factory=list)
    status: int | None = None
    response: Any = None
    injected: bool = False
    expected_problem: bool = False
    sender: str | None = None

    @property
    def name(self) -> str:
        return self.route or f"{self.method} {self.path}"

    @property
    def unknown_route(self) -> bool:
        return self.route is None

    @property
    def is_problem(self) -> bool:
        return (not self.valid or self.unknown_route) and not self.expected_problem

    def matches(self, what: str | Callable[[RecordedCall], bool]) -> bool:
        """`what` is a route ("POST /channels/{channel_id}/messages"), "METHOD /path", or a test."""
        if callable(what):
            return what(self)
        return what in (self.route, f"{self.method} {self.path}")

    def describe(self) -> str:
        text = f"{self.name} -> {self.status}"
        if self.path != self.name.partition(" ")[2]:
            text += f" ({self.path})"
        if self.errors:
            text += ": " + "; ".join(self.errors)
        return text


@dataclass
class FailureRule:
    """An injected failure for the next `times` calls matching `route`."""

    route: str | Callable[[RecordedCall], bool]
    status: int
    code: int = 0
    message: str | None = None
    retry_after: float | None = None
    is_global: bool = False
    times: int = 1
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> tuple[int, Any, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is not None:
            return self.status, self.body, headers
        if self.status == 429:
            retry_after = 0.0 if self.retry_after is None else self.retry_after
            body: dict[str, Any] = {
                "message": self.message or "You are being rate limited.",
                "retry_after": retry_after,
                "global": self.is_global,
            }
            if self.code:
                body["code"] = self.code
            headers.setdefault("Retry-After", str(max(1, round(retry_after + 0.5))))
            headers.setdefault("X-RateLimit-Limit", "5")
            headers.setdefault("X-RateLimit-Remaining", "0")
            headers.setdefault("X-RateLimit-Reset-After", f"{retry_after:.3f}")
            headers.setdefault("X-RateLimit-Bucket", "fake-bucket")
            headers.setdefault("X-RateLimit-Scope", "global" if self.is_global else "user")
            if self.is_global:
                headers.setdefault("X-RateLimit-Global", "true")
            return 429, body, headers
        message = self.message or KNOWN_ERRORS.get(self.code, "Error")
        return self.status, {"message": message, "code": self.code}, headers
