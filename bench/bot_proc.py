"""The bot under benchmark, in a process of its own, against the fakes.

Started by `bench.ack_load` and `bench.memory`. It runs what `storyboard-bot
run --config PATH` runs (the config read by `bot.config.load_config`, the
`StoryboardBot` started and closed as `bot.runner` does), with discord.py's
REST, gateway and CDN bases pointed at the fake Discord named on the command
line (as `tests/launch_bot.py` does). Nothing from `tests/` is imported for the
Storyboard bot, so its memory is the bot's.

Benchmark-only knobs: `--image-bound N` replaces the bot's two image
semaphores (`image_slots`, held from download to the provider's answer, and
`video_api.image_slots` for uploads, both 8) with N-slot ones; `--bare` runs the
baseline of `bench.ack_latency` (a discord.py bot whose modal only defers);
`--request-log PATH` notes when each request's headers left the process (aiohttp's own
trace hook on every session, the bot untouched), by a digest of its Authorization
header, and writes them to PATH as JSON at the end (`bench.fleet`'s per-key ceiling, as
the bots sent it).

It stops on SIGTERM/SIGINT or at the end of its stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import discord.asset
import discord.gateway
import discord.http
import yarl
from discord.ext import commands

from bot.bot import StoryboardBot
from bot.config import Config, load_config
from bot.logs import setup_logging


class BoundedBot(StoryboardBot):
    """The product's bot with both image semaphores set to `bound` slots."""

    def __init__(self, config: Config, bound: int) -> None:
        super().__init__(config)
        self.bound = bound
        self.image_slots = asyncio.Semaphore(bound)

    async def setup_hook(self) -> None:
        await super().setup_hook()
        self.video_api.image_slots = asyncio.Semaphore(self.bound)


def point_discord_py(api_base: str, gateway_url: str, cdn_base: str) -> None:
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    discord.asset.Asset.BASE = cdn_base


def auth_digest(authorization: str) -> str:
    """How `--request-log` names a key: never the key itself."""
    return hashlib.sha256(authorization.encode()).hexdigest()[:16]


def log_requests() -> dict[str, list[float]]:
    """Every aiohttp session made from now on notes (time.monotonic()) when each request's
    headers are written, by `auth_digest` of its Authorization header."""
    sent: dict[str, list[float]] = defaultdict(list)

    async def headers_sent(
        session: aiohttp.ClientSession,
        ctx: Any,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        authorization = params.headers.get("Authorization")
        if authorization:
            sent[auth_digest(authorization)].append(time.monotonic())

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(headers_sent)
    original = aiohttp.ClientSession.__init__

    def with_trace(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        kwargs["trace_configs"] = [*(kwargs.get("trace_configs") or ()), trace]
        original(self, *args, **kwargs)

    aiohttp.ClientSession.__init__ = with_trace  # type: ignore[method-assign]
    return sent


def stop_at_end_of_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """The benchmark died without a signal: stop anyway (a daemon thread, not awaited)."""

    def watch() -> None:
        while sys.stdin.readline():
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, daemon=True, name="stdin-watch").start()


async def serve(make_bot: Callable[[], commands.Bot], token: str) -> None:
    bot = make_bot()  # inside the loop, as `bot.runner` does
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stop_at_end_of_stdin(loop, stop)
    async with bot:
        runner = asyncio.create_task(bot.start(token))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        await bot.close()  # the Storyboard bot drains submissions under way (up to 5 s)
        stopper.cancel()
        if runner.done():
            runner.result()
        else:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner


def main() -> None:
    parser = argparse.ArgumentParser(description="internal: the bot for bench.ack_load/memory")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--api", required=True, help="the fake's REST base (…/api/v10)")
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--cdn", required=True)
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--image-bound", type=int, default=0)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--request-log", type=Path, default=None)
    args = parser.parse_args()
    sent = log_requests() if args.request_log is not None else None

    point_discord_py(args.api, args.gateway, args.cdn)
    config = load_config(args.config, env=os.environ)
    setup_logging(args.log_level, config.secrets(), "text")
    assert config.discord_token is not None

    def make_bot() -> commands.Bot:
        if args.bare:
            from bench.ack_latency import BareBot

            return BareBot()
        if args.image_bound:
            return BoundedBot(config, args.image_bound)
        return StoryboardBot(config)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(make_bot, config.discord_token.get_secret_value()))
    finally:
        if args.request_log is not None and sent is not None:
            args.request_log.write_text(json.dumps(sent), encoding="utf-8")


if __name__ == "__main__":
    main()
