"""Spacing of requests per API key, shared by every job and guild using that key.

A 429 (or a 503 with `Retry-After`) is about the key, not the one request that
drew it: the provider counts every request the key makes. So the client
`pause`s the key's pacer, and every caller of that key waits (or is told to
come back later) instead of each learning the same lesson with its own 429.

Several processes sharing a key (a fleet over PostgreSQL) also share its ceiling:
with a `SharedPacing`, each start is granted by the fleet's record of the key too,
and a pause is written there for every process to honour. This module knows only
the protocol; the store implements it (`bot.store.pacing`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol, TypeVar

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

# Fleet grants are spaced (1 + FLEET_SLACK) / rate apart, not 1 / rate. Between a grant
# and the provider seeing its request lie the grant's way back to the process, that
# process's event loop and the network, and they differ from process to process: with
# exact spacing, a request that lingered 10 ms and the next that did not would reach
# the provider closer than granted, and a one-second window there could hold one too
# many. The slack keeps any `rate` + 1 consecutive grants at least 1 + FLEET_SLACK
# seconds apart, so the provider sees at most `rate` in any second as long as those
# delays differ by less than FLEET_SLACK seconds; it costs the fleet 10 % of the ceiling.
# 50 ms was exceeded on a saturated 2-core machine (tests/test_fleet_e2e.py); 100 ms holds.
FLEET_SLACK = 0.1

# Longer than this without an answer from the shared pacing and the request goes on the
# local pacer alone (logged): a slow database must not hold every request of the key.
SHARED_PACING_TIMEOUT = 2.0


class Turn(NamedTuple):
    """The fleet's answer to "may this key start a request now?"."""

    granted: bool
    # Not granted: seconds to wait before asking again; `paused_for` of them are the
    # key's pause (after a 429), the rest its spacing.
    wait: float = 0.0
    paused_for: float = 0.0


class PacingUnavailable(Exception):
    """The shared pacing could not be asked (its database is down or refused us)."""


class SharedPacing(Protocol):
    """One record per key for every process of the fleet. Keys are given as digests:
    the key itself never leaves the process."""

    async def take_turn(self, digest: str, interval: float) -> Turn:
        """Grant a start now if the key's last start is `interval` seconds past and it
        is not paused, recording it as the key's last start, in one atomic step."""

    async def pause(self, digest: str, seconds: float) -> None:
        """No start is granted for `seconds` from now; extends a pause, never shortens."""


class KeyPaused(Exception):
    """The key is paused for longer than the caller would wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paused for {seconds:.1f}s")
        self.seconds = seconds


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

    With `shared` (and the key's `digest`), a start the process allows is then asked
    of the fleet, and a pause is recorded there too. Should the shared pacing fail,
    the request goes on this pacer alone: the process still keeps its own ceiling, so
    an outage costs at most one ceiling per process, never an unbounded burst, and
    never stops the key.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        shared: SharedPacing | None = None,
        digest: str = "",
    ) -> None:
        self.interval = 1.0 / rate
        self.fleet_interval = (1.0 + FLEET_SLACK) / rate
        # None: the module's `_monotonic`, looked up per call (a test may shift it).
        self._clock: Clock = clock or (lambda: _monotonic())
        self._sleep = sleep or _sleep
        self._last_start = -math.inf
        self._paused_until = -math.inf
        self._turn = asyncio.Lock()
        self._shared = shared
        self._digest = digest
        self._shared_failing = False

    def _hold(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def pause(self, seconds: float) -> None:
        """No request starts for `seconds` from now, in this process and (with shared
        pacing) every other; extends a pause, never shortens one.

        A value that is not a finite positive number is ignored.
        """
        if not math.isfinite(seconds) or seconds <= 0:
            return
        self._hold(seconds)
        if self._shared is not None:
            await self._ask(self._shared.pause(self._digest, seconds))

    def paused_for(self) -> float:
        """Seconds left of the current pause (0.0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    async def wait(self, *, refuse_over: float = math.inf) -> None:
        """Until this caller may start a request; raises `KeyPaused` instead of sleeping
        through a pause longer than `refuse_over` seconds."""
        async with self._turn:
            while True:
                if (paused := self.paused_for()) > refuse_over:
                    raise KeyPaused(paused)
                now = self._clock()
                delay = max(self._paused_until, self._last_start + self.interval) - now
                if delay > 0:
                    # Looped: a pause may be extended while we sleep.
                    await self._sleep(delay)
                    continue
                if self._shared is None:
                    break
                turn = await self._ask(self._shared.take_turn(self._digest, self.fleet_interval))
                if turn is None or turn.granted:
                    break
                if turn.paused_for > 0:
                    # Another process drew the 429: hold here too, so `paused_for` (and a
                    # caller's refusal of a long pause) knows without asking the fleet.
                    self._hold(turn.paused_for)
                else:
                    await self._sleep(turn.wait)
            self._last_start = self._clock()

    async def _ask(self, call: Awaitable[T]) -> T | None:
        """The shared pacing's answer, or None when it failed (logged once per outage)."""
        try:
            async with asyncio.timeout(SHARED_PACING_TIMEOUT):
                answer = await call
        except (PacingUnavailable, TimeoutError) as exc:
            if not self._shared_failing:
                log.warning(
                    "shared pacing unavailable (%s): key %s paced by this process alone",
                    exc or type(exc).__name__,
                    self._digest[:16],
                )
            self._shared_failing = True
            return None
        if self._shared_failing:
            log.info("shared pacing back: key %s paced by the fleet again", self._digest[:16])
            self._shared_failing = False
        return answer


class PacerRegistry:
    """One pacer per key; keys are held only as digests (and only those are shared)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        shared: SharedPacing | None = None,
    ) -> None:
        self._pacers: dict[str, RequestPacer] = {}
        self._clock = clock
        self._sleep = sleep
        self._shared = shared

    def for_key(self, key: str, rate: float) -> RequestPacer:
        digest = hashlib.sha256(key.encode()).hexdigest()
        pacer = self._pacers.get(digest)
        if pacer is None or pacer.interval != 1.0 / rate:
            old = pacer
            pacer = self._pacers[digest] = RequestPacer(
                rate, clock=self._clock, sleep=self._sleep, shared=self._shared, digest=digest
            )
            if old is not None:  # a new rate from a reload keeps the key's pause
                pacer._paused_until = old._paused_until
        return pacer
