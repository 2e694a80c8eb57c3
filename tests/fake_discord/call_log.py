"""The recorded calls and the queries tests make on them; injected failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .recording import FailureRule, RecordedCall
from .routing import ROUTES

CallMatch = str | Callable[[RecordedCall], bool]
CDN_UPLOAD = "GET /cdn/ephemeral-attachments/{application_id}/{attachment_id}/{filename}"
CDN_ATTACHMENT = "GET /cdn/attachments/{channel_id}/{attachment_id}/{filename}"


def check_route(match: CallMatch) -> None:
    """Catch typos: a template ("{...}") must be one the fake serves."""
    known = [*ROUTES.names, CDN_UPLOAD, CDN_ATTACHMENT]
    if isinstance(match, str) and "{" in match and match not in known:
        raise ValueError(f"unknown route {match!r}; known: {sorted(known)}")


class CallLog:
    """Every request the bot made (`calls`), queries on them, and failures to inject."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self.failures: list[FailureRule] = []
        # Names the client behind a call from its TCP port (`RecordedCall.sender`); asked
        # while the call is open, when the client's socket still exists.
        self.sender_of: Callable[[int], str | None] | None = None
        self._changed = asyncio.Condition()

    def record(self, call: RecordedCall) -> None:
        self.calls.append(call)

    async def answered(self, call: RecordedCall, status: int, response: Any) -> None:
        call.status, call.response = status, response
        async with self._changed:
            self._changed.notify_all()

    def take_failure(self, call: RecordedCall) -> FailureRule | None:
        rule = next((r for r in self.failures if r.times > 0 and call.matches(r.route)), None)
        if rule is not None:
            rule.times -= 1
            call.injected = True
        return rule

    def calls_to(self, match: CallMatch) -> list[RecordedCall]:
        """Calls to a route ("POST /channels/{channel_id}/messages"), "METHOD /path" or test."""
        check_route(match)
        return [c for c in self.calls if c.matches(match)]

    async def wait_for_call(
        self,
        match: CallMatch,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        since: int = 0,
    ) -> RecordedCall:
        """The first answered call from index `since` that matches; waits for it if needed."""
        check_route(match)

        def found() -> RecordedCall | None:
            return next(
                (c for c in self.calls[since:] if c.status is not None and c.matches(match)), None
            )

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"no call matching {match!r} within {timeout}s\n{self.describe_calls(last=15)}"
                ) from None
        call = found()
        assert call is not None
        return call

    def fail_next(
        self,
        route: CallMatch,
        *,
        status: int,
        code: int = 0,
        message: str | None = None,
        retry_after: float | None = None,
        is_global: bool = False,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> FailureRule:
        """Answer the next `times` matching calls with an error.

        The body is Discord's {"message", "code"}, or for 429 {"message", "retry_after",
        "global"} with the X-RateLimit-* and Via headers discord.py needs to retry.
        """
        check_route(route)
        rule = FailureRule(
            route, status, code, message, retry_after, is_global, times, body, dict(headers or {})
        )
        self.failures.append(rule)
        return rule

    def problems(self) -> list[RecordedCall]:
        """Calls Discord would refuse, to routes the fake lacks, or that broke the fake."""
        return [c for c in self.calls if c.is_problem]

    def expect_problem(self, call: RecordedCall) -> None:
        """Mark an invalid call as wanted by the test, so `assert_all_valid` accepts it."""
        call.expected_problem = True

    def assert_all_valid(self) -> None:
        bad = self.problems()
        if bad:
            lines = "\n".join(f"  {c.describe()}" for c in bad)
            raise AssertionError(
                f"{len(bad)} request(s) Discord would refuse or the fake lacks:\n{lines}"
            )

    def describe_calls(self, last: int | None = None) -> str:
        shown = self.calls[-last:] if last else self.calls
        return "calls so far:\n" + "\n".join(f"  {c.describe()}" for c in shown)
