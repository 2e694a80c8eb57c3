"""Spacing of requests per API key, shared by every job and guild using that key."""

from __future__ import annotations

import asyncio
import hashlib
import time


class RequestPacer:
    """At most `rate` request starts per second, in arrival order.

    Starts are spaced from the previous *actual* start, one caller at a time: a
    caller that wakes late (an event-loop stall) delays the next instead of
    letting every overdue caller go at once, which booking slots ahead did.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._last_start = -float("inf")
        self._turn = asyncio.Lock()

    async def wait(self) -> None:
        async with self._turn:
            delay = self._last_start + self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._last_start = time.monotonic()


class PacerRegistry:
    """One pacer per key; keys are held only as digests."""

    def __init__(self) -> None:
        self._pacers: dict[str, RequestPacer] = {}

    def for_key(self, key: str, rate: float) -> RequestPacer:
        digest = hashlib.sha256(key.encode()).hexdigest()
        pacer = self._pacers.get(digest)
        if pacer is None or pacer.interval != 1.0 / rate:
            pacer = self._pacers[digest] = RequestPacer(rate)
        return pacer
