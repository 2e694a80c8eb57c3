"""The tracker stops when asked, even when a wake-up lands at the same moment.

Python 3.11's `asyncio.wait_for` returns instead of raising when it is cancelled just
as what it waits for completes: the dispatcher then ran on after `stop`, and a bot's
stop hung (seen as a 180 s teardown timeout in a loaded CI run).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from bot.tracker import Tracker


class NoJobs:
    async def open_job_ids(self, shards: object = None) -> list[int]:
        return []


async def test_stop_ends_the_dispatcher_even_as_it_is_woken() -> None:
    for _ in range(5):
        tracker = Tracker(NoJobs(), api=None, config=lambda: SimpleNamespace(shards=None))  # type: ignore[arg-type]
        await tracker.start()
        tracker.watch(1, delay=3600)
        await asyncio.sleep(0.01)  # the dispatcher now waits, with a timeout, for a wake-up
        tracker.watch(2, delay=1800)  # wakes it, in the same tick as the stop's cancel
        stopping = asyncio.ensure_future(tracker.stop(grace=0))
        # Not cancelled from outside: a cancel of the waiting stop would reach the
        # dispatcher a second time and hide the bug. It must end on its own.
        done, _ = await asyncio.wait({stopping}, timeout=5)
        assert stopping in done, "the tracker did not stop"
        task: Any = tracker._task
        assert task is None
