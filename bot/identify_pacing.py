"""Taking turns to log in to the gateway across processes (Discord's `max_concurrency`).

Discord starts at most `max_concurrency` sessions (IDENTIFYs) per 5 seconds for a bot,
one per rate-limit bucket, `shard_id % max_concurrency`; a faster one is refused.
discord.py paces the shards of one process; processes started together (a deploy)
would all IDENTIFY at once. So each IDENTIFY takes its bucket's turn through the store:
under `store.exclusive`, it waits until 5 s after the bucket's last IDENTIFY by any
process (kept in `meta`), then records its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.store.api import StoreApi

# Discord's window: `max_concurrency` IDENTIFYs per bucket per this many seconds.
IDENTIFY_WINDOW_SECONDS = 5.0
# The meta key holding a bucket's last IDENTIFY (epoch seconds), and the lock's name.
IDENTIFY_KEY = "identify:"


class IdentifyPacer:
    """When a shard may IDENTIFY. The clock is shared by the processes (the wall clock);
    a test gives a clock and a sleep of its own, so the 5 s pass without waiting."""

    def __init__(
        self,
        *,
        window: float = IDENTIFY_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.window = window
        self._clock = clock
        self._sleep = sleep

    async def wait_turn(self, store: StoreApi, shard_id: int, max_concurrency: int) -> float:
        """Return once `shard_id` may IDENTIFY, and record that it does; the seconds waited."""
        name = f"{IDENTIFY_KEY}{shard_id % max(1, max_concurrency)}"
        async with store.exclusive(name):
            last = await store.get_meta(name)
            wait = 0.0
            if last:
                # At most one window: a time in the future (a clock set back) can't stall us.
                wait = min(self.window, float(last) + self.window - self._clock())
            if wait > 0:
                await self._sleep(wait)
            await store.set_meta(name, repr(self._clock()))
        return max(0.0, wait)
