"""Spacing of requests per API key, shared by every job and guild using that key.

A 429 (or a 503 with `Retry-After`) is about the key, not the one request that
drew it: the provider counts every request the key makes. So the client
`pause`s the key's pacer, and every caller of that key waits (or is told to
come back later) instead of each learning the same lesson with its own 429.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def _monotonic() -> float:
    # Looked up at call time, so a test can patch `time.monotonic`.
    return time.monotonic()


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class RequestPacer:
    """At most `rate` request starts per second, in arrival order, and none while paused.

    Starts are spaced from the previous *actual* start, one caller at a time: a
    caller that wakes late (an event-loop stall) delays the next instead of
    letting every overdue caller go at once, which booking slots ahead did.
    `clock` and `sleep` are injectable so a simulation can run on a fake clock.
    """

    def __init__(
        self, rate: float, *, clock: Clock | None = None, sleep: Sleep | None = None
    ) -> None:
        self.interval = 1.0 / rate
        # None: the module's `_monotonic`, looked up per call (a test may shift it).
        self._clock: Clock = clock or (lambda: _monotonic())
        self._sleep = sleep or _sleep
        self._last_start = -math.inf
        self._paused_until = -math.inf
        self._turn = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """No request starts for `seconds` from now; extends a pause, never shortens one.

        A value that is not a finite positive number is ignored.
        """
        if not math.isfinite(seconds) or seconds <= 0:
            return
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        """Seconds left of the current pause (0.0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    async def wait(self) -> None:
        async with self._turn:
            while True:
                now = self._clock()
                delay = max(self._paused_until, self._last_start + self.interval) - now
                if delay <= 0:
                    break
                # Looped: a pause may be extended while we sleep.
                await self._sleep(delay)
            self._last_start = self._clock()


class PacerRegistry:
    """One pacer per key; keys are held only as digests."""

    def __init__(self, *, clock: Clock | None = None, sleep: Sleep | None = None) -> None:
        self._pacers: dict[str, RequestPacer] = {}
        self._clock = clock
        self._sleep = sleep

    def for_key(self, key: str, rate: float) -> RequestPacer:
        digest = hashlib.sha256(key.encode()).hexdigest()
        pacer = self._pacers.get(digest)
        if pacer is None or pacer.interval != 1.0 / rate:
            old = pacer
            pacer = self._pacers[digest] = RequestPacer(rate, clock=self._clock, sleep=self._sleep)
            if old is not None:  # a new rate from a reload keeps the key's pause
                pacer._paused_until = old._paused_until
        return pacer
