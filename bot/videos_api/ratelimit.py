"""Spacing of requests per API key, shared by every job and guild using that key."""

from __future__ import annotations

import asyncio
import hashlib
import time


class RequestPacer:
    """At most `rate` request starts per second, in arrival order.

    Each caller books the next free slot and sleeps until it; no lock is needed
    because booking happens without awaiting.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next_slot = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


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
