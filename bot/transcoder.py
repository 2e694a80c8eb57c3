"""Transcodes and animatics off the event loop, a bounded number at once
(`[media] transcode_slots`).

A transcode takes about a core for about the video's length: run on the event loop it would
stall tracking and every acknowledgement for that long, so it runs in a thread. The slots
bound CPU and memory; the queue bounds how many deliveries wait for a slot, since each
waiting delivery holds one of the tracker's workers.

A thread cannot be cancelled: a cancelled caller returns at once, the transcode is told to
stop between two frames, and its slot is free only when the thread has really ended.

Animatics (`bot.animatic`) share the slots: they take a fraction of a second of one core,
so a separate pool would only let renders and transcodes together overrun the cores the
slots were sized for. But they are free (a draft's preview, Watch timing, a sandbox
job's "video") and a delivery's transcode or still is a video somebody paid for: a slot
that frees goes to a paid waiter first, and free work queues apart, so a flood of
sandbox jobs can never fill the queue a paid delivery needs. A free render already
running is not stopped; it takes under a second.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from bot.animatic import DEFAULT_OPTIONS, Animatic, AnimaticOptions, Reel, render_animatic
from bot.storyboard import ValidStoryboard
from bot.video_fit import FitResult, first_frame_jpeg, fit_video, still_frame

log = logging.getLogger(__name__)
T = TypeVar("T")


class TranscoderBusy(Exception):
    """Every slot is taken and the queue is full: try again later."""


# Who goes first when a slot frees: a paid video's transcode or still, then free renders.
PAID, FREE = 0, 1


class Transcoder:
    def __init__(self, slots: int = 1, queue: int = 4) -> None:
        self.slots, self.queue = slots, queue
        self._free_slots = slots
        # Callers waiting for a slot: (rank, arrival, their future), paid first, then in
        # arrival order; `_queued` counts them per rank, each rank under `queue`.
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._queued = [0, 0]
        self._arrivals = itertools.count()
        self._stop = threading.Event()
        self._threads: set[asyncio.Future[Any]] = set()

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot now."""
        return sum(self._queued)

    async def _acquire(self, rank: int) -> None:
        if self._free_slots > 0 and not self._waiters:
            self._free_slots -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (rank, next(self._arrivals), turn)
        heapq.heappush(self._waiters, entry)
        self._queued[rank] += 1
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot as it was cancelled: pass it on
            elif entry in self._waiters:
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            # (Else a slot that freed as it was cancelled already skipped it.)
            raise
        finally:
            self._queued[rank] -= 1

    def _release(self) -> None:
        while self._waiters:
            _, _, turn = heapq.heappop(self._waiters)
            if not turn.done():
                turn.set_result(None)
                return
        self._free_slots += 1

    async def _run(self, work: Callable[[], T], *, wait: bool = True, rank: int = PAID) -> T:
        if self._free_slots == 0 and (not wait or self._queued[rank] >= self.queue):
            raise TranscoderBusy
        await self._acquire(rank)
        try:
            thread = asyncio.ensure_future(asyncio.to_thread(work))
        except BaseException:
            self._release()
            raise
        self._threads.add(thread)
        thread.add_done_callback(self._ended)
        # Shielded: a cancelled caller leaves, the thread (and its slot) ends on its own.
        return await asyncio.shield(thread)

    def _ended(self, thread: asyncio.Future[Any]) -> None:
        self._threads.discard(thread)
        self._release()
        if not thread.cancelled() and thread.exception() is not None:
            log.debug("transcode ended with %r", thread.exception())

    async def fit(self, src: Path, dst: Path, limit_bytes: int) -> FitResult:
        """`bot.video_fit.fit_video` in a thread, in a slot."""
        return await self._run(lambda: fit_video(src, dst, limit_bytes, stop=self._stop))

    async def still(self, src: Path, max_bytes: int | None = None) -> bytes:
        """The middle frame as a JPEG (`bot.video_fit.still_frame`), in a thread and a slot."""
        return await self._run(lambda: still_frame(src, max_bytes))

    async def thumbnail(
        self,
        src: Path,
        max_bytes: int | None = None,
        long_side: int | None = None,
        *,
        wait: bool = True,
    ) -> bytes:
        """A frame of the first second as a JPEG (`bot.video_fit.first_frame_jpeg`). With
        `wait=False`, `TranscoderBusy` at once when no slot is free now (a still is not
        worth queueing behind a transcode that takes about a video's length)."""
        return await self._run(lambda: first_frame_jpeg(src, max_bytes, long_side), wait=wait)

    async def animatic(
        self,
        board: ValidStoryboard | Reel,
        dst: Path,
        *,
        reference: bytes | None = None,
        options: AnimaticOptions = DEFAULT_OPTIONS,
        wait: bool = True,
    ) -> Animatic:
        """`board`'s animatic written to `dst` (`bot.animatic.render_animatic`), in a
        thread and a slot, after any paid work waiting for one. With `wait=False`,
        `TranscoderBusy` at once when no slot is free now (a member pressing Preview is
        better told to try again than kept waiting behind a transcode)."""
        return await self._run(
            lambda: render_animatic(
                board, dst, reference=reference, options=options, stop=self._stop
            ),
            wait=wait,
            rank=FREE,
        )

    async def close(self, grace: float = 1.0) -> None:
        """Ask running transcodes to stop and wait up to `grace` seconds for them."""
        self._stop.set()
        if self._threads:
            await asyncio.wait(set(self._threads), timeout=grace)
