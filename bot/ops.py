"""The ops endpoint: `/healthz` and `/metrics` over plain HTTP, off unless configured.

`[ops] listen = "127.0.0.1:9100"` starts it from the bot's `setup_hook`, after
the tracker; `close()` stops it. It only reads: the gateway's state and
latency from discord.py, the store through `ping` (a tiny write, so "writable"
is proved) and `count_jobs_by_state`, the tracker's `open_count`, and the
provider metrics the video API client records in `bot.metrics`.

- `GET /healthz`: 200 `{"gateway": true, "store": true}` when both are fine,
  503 with the same keys (and `detail` for what failed) otherwise. Docker's
  HEALTHCHECK and a load balancer call this.
- `GET /metrics`: Prometheus text format.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Iterable
from typing import Protocol, get_args

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot import metrics
from bot.config import OpsSection
from bot.store import JobState

log = logging.getLogger(__name__)

# The classic text format; `generate_latest` writes it (Prometheus 2 and 3 both read it).
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A store that takes longer than this to answer a one-row write is not healthy.
STORE_TIMEOUT_SECONDS = 3.0
JOB_STATES: tuple[str, ...] = get_args(JobState)


class OpsStore(Protocol):
    """What the ops endpoint reads from the store."""

    async def ping(self) -> None: ...

    async def count_jobs_by_state(self) -> dict[str, int]: ...


class OpsTracker(Protocol):
    @property
    def open_count(self) -> int: ...


class OpsBot(Protocol):
    """What the ops endpoint reads from the bot (`StoryboardBot` is one)."""

    def gateway_open(self) -> bool:
        """The gateway connection (every shard's, sharded) is open right now."""

    @property
    def latency(self) -> float: ...

    def is_closed(self) -> bool: ...

    def is_ready(self) -> bool: ...

    @property
    def store(self) -> OpsStore: ...

    @property
    def tracker(self) -> OpsTracker: ...


def gateway_connected(bot: OpsBot) -> bool:
    """Logged in, READY received, and the websocket open right now (not mid-reconnect)."""
    if bot.is_closed() or not bot.is_ready():
        return False
    return bot.gateway_open()


def _reason(exc: BaseException) -> str:
    # The class name only: library messages may carry paths; never a key.
    return type(exc).__name__ or "error"


async def store_writable(bot: OpsBot) -> str | None:
    """None when the store takes a write; otherwise why not."""
    try:
        await asyncio.wait_for(bot.store.ping(), STORE_TIMEOUT_SECONDS)
    except TimeoutError:
        return "timeout"
    except Exception as exc:
        return _reason(exc)
    return None


class _Snapshot(Collector):
    """The bot's own gauges, read just before a scrape (the store read is async)."""

    def __init__(
        self,
        *,
        gateway_up: bool,
        latency: float,
        open_jobs: int | None,
        jobs: dict[str, int] | None,
    ) -> None:
        self.gateway_up = gateway_up
        self.latency = latency
        self.open_jobs = open_jobs
        self.jobs = jobs

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "storyboard_gateway_connected",
            "1 when the Discord gateway is connected and ready, else 0.",
            value=1 if self.gateway_up else 0,
        )
        yield GaugeMetricFamily(
            "storyboard_gateway_latency_seconds",
            "Discord gateway heartbeat latency (NaN before the first heartbeat).",
            value=self.latency if math.isfinite(self.latency) else math.nan,
        )
        yield GaugeMetricFamily(
            "storyboard_store_up",
            "1 when the job store answered the last scrape's query, else 0.",
            value=0 if self.jobs is None else 1,
        )
        if self.open_jobs is not None:
            yield GaugeMetricFamily(
                "storyboard_tracker_open_jobs",
                "Jobs the tracker is following: waiting to be polled, or being polled.",
                value=self.open_jobs,
            )
        if self.jobs is not None:
            family = GaugeMetricFamily(
                "storyboard_jobs", "Jobs in the store, by state.", labels=["state"]
            )
            for state in sorted({*JOB_STATES, *self.jobs}):
                family.add_metric([state], self.jobs.get(state, 0))
            yield family


class OpsServer:
    """An aiohttp site on `host:port`; `await start()`, then `await stop()`."""

    def __init__(self, bot: OpsBot, host: str, port: int) -> None:
        self._bot = bot
        self.host = host
        self.port = port
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        # No access log: the health check alone would write a line every few seconds.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            log.error("ops endpoint cannot listen on %s: %s", self.url, exc.strerror or exc)
            raise
        self.port = int(self._runner.addresses[0][1])  # the one bound, for port 0
        log.info("ops endpoint listening on %s (/healthz, /metrics)", self.url)

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def healthz(self, request: web.Request) -> web.Response:
        gateway = gateway_connected(self._bot)
        store_problem = await store_writable(self._bot)
        body: dict[str, object] = {"gateway": gateway, "store": store_problem is None}
        detail: dict[str, str] = {}
        if not gateway:
            detail["gateway"] = "closed" if self._bot.is_closed() else "not connected"
        if store_problem is not None:
            detail["store"] = store_problem
        if detail:
            body["detail"] = detail
        return web.Response(
            status=503 if detail else 200,
            text=json.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def metrics(self, request: web.Request) -> web.Response:
        bot = self._bot
        jobs: dict[str, int] | None
        try:
            jobs = await asyncio.wait_for(bot.store.count_jobs_by_state(), STORE_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("metrics: job counts unavailable (%s)", _reason(exc))
            jobs = None
        try:
            open_jobs: int | None = bot.tracker.open_count
        except RuntimeError:  # before setup_hook or after close
            open_jobs = None
        snapshot = _Snapshot(
            gateway_up=gateway_connected(bot),
            latency=bot.latency,
            open_jobs=open_jobs,
            jobs=jobs,
        )
        body = generate_latest(metrics.REGISTRY) + generate_latest(snapshot)
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


async def start_ops(bot: OpsBot, section: OpsSection) -> OpsServer | None:
    """Start the endpoint `section` asks for; None (and nothing started) when it is off."""
    if section.listen is None:
        return None
    host, port = OpsSection.split_listen(section.listen)
    server = OpsServer(bot, host, port)
    await server.start()
    return server
