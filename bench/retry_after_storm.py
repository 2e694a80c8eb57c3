"""A 429 storm through one key: how many requests go out while Retry-After says wait.

1,000 open jobs poll through one key (one `RequestPacer`, the config's
default 2 requests/s, or `--rps`) while the fake provider answers every
retrieve with 429 and `Retry-After: 60` for 60 s. Each job behaves as the
tracker does: poll every `--interval` s; on `RateLimited` look again after the
wait it names. The run is a discrete-event simulation on a fake clock shared by
the pacer (injected `clock`/`sleep`) and the fake provider: polls are real
`VideoClient.poll` calls over HTTP to the fake provider on 127.0.0.1, taken
one at a time in fake-clock order, so 60 s of storm runs in well under a
second of wall time and the figures are the same on every run.

Printed: requests the provider received for the key during the window, with
the same run where a 429 delays only the request that drew it (the pacer's
`pause` disabled: the behaviour before the key pause) as the baseline.

    .venv/bin/python -m bench.retry_after_storm
    .venv/bin/python -m bench.retry_after_storm --jobs 1000 --window 60 --rps 2
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import time

import aiohttp
from pydantic import SecretStr

from bot.profiles import RELAY
from bot.videos_api import RateLimited, RetryPolicy, VideoClient
from bot.videos_api.ratelimit import RequestPacer
from tests.fake_provider import FakeProvider, Fault

KEY = "sk-bench-storm"


class FakeClock:
    """Seconds since the start, moved only by the simulation (and the provider's clock with it)."""

    def __init__(self, provider: FakeProvider) -> None:
        self.now = 0.0
        self._provider = provider

    def advance_to(self, when: float) -> None:
        if when > self.now:
            self._provider.advance(when - self.now)
            self.now = when

    async def sleep(self, seconds: float) -> None:
        # One poll runs at a time, so a pacer's sleep is the simulation's time passing.
        self.advance_to(self.now + max(0.0, seconds))


class NoPausePacer(RequestPacer):
    """The baseline: a 429 delays only the request that drew it."""

    def pause(self, seconds: float) -> None:
        return None


async def run(
    jobs: int, window: float, rps: float, interval: float, pause: bool
) -> dict[str, float]:
    async with (
        FakeProvider(
            keys={KEY}, queue_seconds=10 * window, poll_after_ms=None, start_time=0.0
        ) as fp,
        aiohttp.ClientSession() as session,
    ):
        clock = FakeClock(fp)
        pacer_type = RequestPacer if pause else NoPausePacer
        pacer = pacer_type(rps, clock=lambda: clock.now, sleep=clock.sleep)
        client = VideoClient(
            session,
            base_url=fp.base_url,
            api_key=SecretStr(KEY),
            profile=RELAY,
            timeout_seconds=10,
            pacer=pacer,
            # The tracker's client: waits of up to 30 s in-client, longer ones handed back.
            retry=RetryPolicy(attempts=1),
        )
        ids = [fp.add_job(KEY).id for _ in range(jobs)]
        fp.inject(Fault(route="retrieve", status=429, retry_after=round(window), window=window))
        # Every job's first look is spread over one interval, as a tracker's would be.
        due = [(n * interval / jobs, n) for n in range(jobs)]
        heapq.heapify(due)
        end = window + interval
        refused_calls = 0
        while due and due[0][0] < end:
            when, n = heapq.heappop(due)
            clock.advance_to(when)
            try:
                await client.poll(ids[n])
                wait = interval
            except RateLimited as exc:
                refused_calls += 1
                wait = exc.retry_after if exc.retry_after is not None else 30.0
            heapq.heappush(due, (clock.now + max(wait, 0.001), n))
        in_window = [r for r in fp.requests if r.status == 429]
        return {
            "sent_in_window": len(in_window),
            "sent_total": len(fp.requests),
            "refused_calls": refused_calls,
            "simulated_seconds": clock.now,
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds of 429s")
    parser.add_argument("--rps", type=float, default=2.0, help="the key's requests/s ceiling")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between looks")
    args = parser.parse_args()
    print(
        f"{args.jobs} open jobs, one key at {args.rps:g} requests/s, "
        f"429 with Retry-After: {args.window:g} for {args.window:g} s (fake clock)"
    )
    for label, pause in (("key pause (now)", True), ("per-request wait (before)", False)):
        started = time.perf_counter()
        figures = await run(args.jobs, args.window, args.rps, args.interval, pause)
        wall = time.perf_counter() - started
        print(
            f"  {label:26} requests sent during the window: {figures['sent_in_window']:5.0f}"
            f"   (all requests {figures['sent_total']:.0f} in {figures['simulated_seconds']:.0f}"
            f" simulated s; polls told RateLimited: {figures['refused_calls']:.0f};"
            f" wall {wall:.2f} s)"
        )


if __name__ == "__main__":
    asyncio.run(main())
