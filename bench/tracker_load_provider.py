"""The fake provider for `bench.tracker_load`, run in a process of its own.

`tests.fake_provider.FakeProvider` on 127.0.0.1, plus the time (monotonic,
which is system-wide on Linux, so comparable with the bot process's) of every
request. It prints `{"port": ...}`, then answers one JSON command per stdin
line with one JSON line:

- `{"cmd": "advance", "seconds": s}`: move the fake clock forward;
- `{"cmd": "rewind"}`: put the clock back to the start, so every job is queued again;
- `{"cmd": "count", "since": t0, "until": t1}`: requests in that window, by
  route, the most in any one second, and how many jobs the provider has
  finished;
- `{"cmd": "quit"}`.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import sys
import time
from collections import Counter
from typing import Any

from aiohttp import web

from bench.tracker_load_bot import most_in_one_second
from tests.fake_provider import FakeProvider
from tests.fake_provider.forms import ApiError
from tests.fake_provider.records import RecordedRequest

START_TIME = 1_764_744_797.290
# The provider lives as long as one benchmark size; this is a backstop, not a limit in use.
MAX_LIFETIME_SECONDS = 4 * 3600.0
MAX_COMMANDS = 1_000_000


class TimedProvider(FakeProvider):
    """The fake provider, noting when (time.monotonic) each request arrived."""

    def __init__(self, keys: set[str], queue_seconds: float, run_seconds: float) -> None:
        super().__init__(
            keys=keys,
            queue_seconds=queue_seconds,
            run_seconds=run_seconds,
            start_time=START_TIME,
        )
        self.arrivals: list[tuple[float, str]] = []

    async def _record(self, request: web.Request) -> tuple[RecordedRequest, ApiError | None]:
        record, problem = await super()._record(request)
        self.arrivals.append((time.monotonic(), record.route))
        return record, problem

    def rewind(self) -> None:
        self._now = START_TIME

    def count(self, since: float, until: float) -> dict[str, Any]:
        arrivals = sorted(self.arrivals)
        times = [t for t, _ in arrivals]
        lo, hi = bisect.bisect_left(times, since), bisect.bisect_right(times, until)
        routes = Counter(route for _, route in arrivals[lo:hi])
        statuses = Counter(job.status for job in self.jobs.values())
        return {
            "total": hi - lo,
            "by_route": dict(routes),
            "peak_1s": most_in_one_second(times[lo:hi]),
            "provider_statuses": dict(statuses),
        }


def reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def serve(key: str, queue_seconds: float, run_seconds: float) -> None:
    deadline = time.monotonic() + MAX_LIFETIME_SECONDS
    async with TimedProvider({key}, queue_seconds, run_seconds) as provider:
        reply({"port": int(provider.base_url.rsplit(":", 1)[1].split("/")[0])})
        for _ in range(MAX_COMMANDS):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            line = await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), left)
            if not line:
                break
            command = json.loads(line)
            match command["cmd"]:
                case "advance":
                    provider.advance(float(command["seconds"]))
                    reply({"now": provider.now})
                case "rewind":
                    provider.rewind()
                    reply({"now": provider.now})
                case "count":
                    reply(provider.count(float(command["since"]), float(command["until"])))
                case "quit":
                    reply({"bye": True})
                    break
                case other:
                    reply({"error": f"unknown command {other!r}"})


def main() -> None:
    parser = argparse.ArgumentParser(description="internal: the fake provider for bench")
    parser.add_argument("--key", required=True)
    parser.add_argument("--queue-seconds", type=float, required=True)
    parser.add_argument("--run-seconds", type=float, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.key, args.queue_seconds, args.run_seconds))


if __name__ == "__main__":
    main()
