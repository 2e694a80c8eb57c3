"""The fake provider for `bench.fleet`, in a process of its own: many keys, real time.

`bench.provider_proc.LeanProvider` (bodies forgotten once answered) on the wall clock,
`time.time()`, instead of a clock a test moves: a job made by a create is queued
`--queue-seconds` and runs `--run-seconds`, in real seconds, so the bots see jobs finish
while the benchmark runs. It notes every request's arrival (`time.monotonic()`, which is
system-wide on Linux, so comparable with the benchmark's), key and route: the per-key
ceiling is checked where the provider would enforce it. Every job's video is one real
H.264 MP4 made at start (`tests.video_samples`, 640x360, 2 s, about 60 KB): a delivery
downloads it, posts it and decodes its first frame for the card's still, as with a real
video, only smaller.

It prints `{"base_url": ...}`, then answers one JSON command per stdin line with one
JSON line:

- `{"cmd": "seed", "jobs": [[task_id, key_index, finish_offset], ...]}`: jobs made
  without requests (the open jobs a fleet restarts with), queued until "go";
- `{"cmd": "go"}`: the seeded jobs run from now: each completes `finish_offset` seconds
  later, as far along as that makes it (answers `{"at": time.time()}`);
- `{"cmd": "count", "since": m0, "until": m1}` (monotonic): requests by route, per key
  the total and the most within any one second, and when each form's create arrived;
- `{"cmd": "finished", "since": w0, "until": w1}` (wall clock): `{task_id: completed_at}`
  of every job completing in that span;
- `{"cmd": "quit"}` (or the end of stdin).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.procs import LISTEN_BACKLOG
from bench.provider_proc import LeanProvider, commands, reply
from bench.tracker_load_bot import most_in_one_second
from tests.fake_provider.forms import ApiError
from tests.fake_provider.jobs import FakeJob
from tests.fake_provider.records import RecordedRequest
from tests.video_samples import make_video

# Seeded jobs wait this far in the future (queued) until "go" sets their timeline.
NOT_YET = 10 * 365 * 86400.0
# A backstop: the benchmark that started this process ends it long before.
MAX_LIFETIME_SECONDS = 4 * 3600.0


class FleetProvider(LeanProvider):
    """`LeanProvider` with several keys, on the wall clock, noting each request's arrival."""

    def __init__(
        self, keys: list[str], queue_seconds: float, run_seconds: float, video: bytes
    ) -> None:
        super().__init__(set(keys), "relay")
        self.key_index = {key: i for i, key in enumerate(keys)}
        self.queue_seconds = queue_seconds
        self.run_seconds = run_seconds
        self.serve_video(video)
        self.content_size = 64  # the noise the content route makes before serving the video
        self.expires_seconds = None  # a video kept for as long as the benchmark runs
        # (monotonic arrival, key index or -1, route), in arrival order.
        self.arrivals: list[tuple[float, int, str]] = []
        self.seeded: dict[str, float] = {}  # task id -> seconds from "go" to completed
        # The monotonic arrival of each create, by the form it came from: the `request`
        # in its metadata ends in the request key, `quick:<the form's interaction id>`.
        self.creates: dict[str, float] = {}

    def _clock(self) -> float:
        return time.time()

    async def start(self) -> None:
        """`FakeProvider.start` with a listen backlog of `LISTEN_BACKLOG`, not aiohttp's
        128: the bots open a connection per concurrent request, and a burst of creates
        overflowed the accept queue, so their connects timed out (submits refused as
        "provider down") because of the fake, not the bots."""
        app = web.Application(middlewares=[self._middleware], client_max_size=self.max_body_size)
        self.add_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock, backlog=LISTEN_BACKLOG).start()
        self._runner = runner
        self._closing.clear()

    async def _record(self, request: web.Request) -> tuple[RecordedRequest, ApiError | None]:
        record, problem = await super()._record(request)
        key = self.key_index.get(record.key or "", -1)
        arrived = time.monotonic()
        self.arrivals.append((arrived, key, record.route))
        if record.route == "create":
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                tag = str(json.loads(record.fields.get("metadata") or "{}")["request"])
                self.creates.setdefault(tag.rpartition(":quick:")[2], arrived)
        return record, problem

    def seed(self, jobs: list[list[Any]]) -> int:
        keys = sorted(self.key_index, key=self.key_index.__getitem__)
        for task_id, key_index, finish_offset in jobs:
            self.jobs[task_id] = FakeJob(
                id=task_id,
                dialect="relay",
                model="sora-2",
                prompt="A preloaded job.",
                seconds="10",
                size="1280x720",
                created_at=time.time() + NOT_YET,
                queue_seconds=self.queue_seconds,
                run_seconds=self.run_seconds,
                expires_seconds=None,
                clock=self._clock,
                key=keys[int(key_index)],
            )
            self.seeded[task_id] = float(finish_offset)
        return len(jobs)

    def go(self) -> float:
        now = time.time()
        span = self.queue_seconds + self.run_seconds
        for task_id, finish_offset in self.seeded.items():
            self.jobs[task_id].created_at = now + finish_offset - span
        return now

    def count(self, since: float, until: float) -> dict[str, Any]:
        window = [(t, k, r) for t, k, r in self.arrivals if since <= t <= until]
        by_key: dict[int, list[float]] = defaultdict(list)
        for t, k, _ in window:
            by_key[k].append(t)
        return {
            "total": len(window),
            "routes": dict(Counter(r for _, _, r in window)),
            "keys": {
                str(k): {"total": len(times), "peak_1s": most_in_one_second(times)}
                for k, times in sorted(by_key.items())
            },
            "refused_creates": self.refused_creates,
            "creates": {form: at for form, at in self.creates.items() if since <= at <= until},
        }

    def finished(self, since: float, until: float) -> dict[str, float]:
        done: dict[str, float] = {}
        for job in self.jobs.values():
            at = job.completed_at
            if at is not None and since <= at <= until:
                done[job.id] = at
        return done


def small_video() -> bytes:
    with tempfile.TemporaryDirectory(prefix="fleet-video-") as tmp:
        path = make_video(
            Path(tmp) / "video.mp4",
            width=640,
            height=360,
            seconds=2.0,
            fps=15,
            bitrate=250_000,
            audio=False,
            grain=8,
        )
        return path.read_bytes()


async def serve(args: argparse.Namespace) -> None:
    keys = [line for line in args.keys.split(",") if line]
    provider = FleetProvider(keys, args.queue_seconds, args.run_seconds, small_video())
    async with provider:
        reply({"base_url": provider.base_url})
        async for command in commands(MAX_LIFETIME_SECONDS):
            match command.get("cmd"):
                case "seed":
                    reply({"seeded": provider.seed(command["jobs"])})
                case "go":
                    reply({"at": provider.go()})
                case "count":
                    reply(provider.count(float(command["since"]), float(command["until"])))
                case "finished":
                    reply(provider.finished(float(command["since"]), float(command["until"])))
                case "stats":
                    reply(provider.stats())
                case "quit":
                    reply({"bye": True})
                    break
                case other:
                    reply({"error": f"unknown command {other!r}"})


def main() -> None:
    parser = argparse.ArgumentParser(description="internal: the fake provider for bench.fleet")
    parser.add_argument("--keys", required=True, help="the accepted keys, comma-separated")
    parser.add_argument("--queue-seconds", type=float, required=True)
    parser.add_argument("--run-seconds", type=float, required=True)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
