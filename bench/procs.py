"""What `bench.ack_load`, `bench.memory` and `bench.submit_path` share.

The bot (`bench.bot_proc`) and the fake provider (`bench.provider_proc`) each
run in a process of their own, so the fake Discord the benchmark drives in its
own process does not compete with the bot for the event loop, and the bot's
memory is read from `/proc/<pid>/status` (VmRSS, VmHWM) with nothing else in
it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from PIL import Image

from tests.fake_discord import FakeDiscord
from tests.fake_discord.gateway import Gateway
from tests.fake_discord.models import JSON
from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider.fixtures import GUILD_A_KEY

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
STOP_WITHIN = 20.0
LISTEN_BACKLOG = 4096


class Child:
    """A helper process speaking one JSON object per line on stdin/stdout."""

    def __init__(self, module: str, *args: str, line_limit: int = 64 * 1024) -> None:
        self._argv = (sys.executable, "-m", module, *args)
        self.module = module
        # The longest answer line it may send (asyncio's default is 64 KiB).
        self._line_limit = line_limit
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        self.proc = await asyncio.create_subprocess_exec(
            *self._argv,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=self._line_limit,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), STOP_WITHIN)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def read(self, within: float = 60.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not line:
            raise RuntimeError(f"{self.module} exited ({await self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def ask(self, payload: dict[str, Any], within: float = 60.0) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(payload).encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.read(within)


class ProviderProcess(Child):
    """`bench.provider_proc`: the fake provider on 127.0.0.1 in its own process."""

    def __init__(self, key: str = GUILD_A_KEY, dialect: str = "relay") -> None:
        super().__init__("bench.provider_proc", "--key", key, "--dialect", dialect)
        self.key = key
        self.base_url = ""

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.base_url = str((await self.read(60))["base_url"])
        return self

    async def stats(self) -> dict[str, Any]:
        return await self.ask({"cmd": "stats"})


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def write_toml(path: Path, data: dict[str, Any]) -> None:
    lines: list[str] = []

    def table(name: str, values: dict[str, Any]) -> None:
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        if name:
            lines.append(f"[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in scalars.items())
        lines.append("")
        for key, sub in values.items():
            if isinstance(sub, dict):
                table(f"{name}.{json.dumps(key)}" if name else key, sub)

    table("", data)
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)


def write_bot_config(
    path: Path, *, token: str, provider_url: str, db: Path, **overrides: dict[str, Any]
) -> Path:
    """The config `tests.harness.config_for` builds (guild A only), as a file for the bot."""
    data: dict[str, Any] = {
        "discord": {"token": token},
        "provider": {
            "base_url": provider_url,
            "timeout_seconds": 30,
            "max_requests_per_second": 50,
        },
        "defaults": {"model": "sora-2", "seconds": 15},
        "images": {"max_mb": 2},
        "tracking": {"poll_min_seconds": 0.05, "poll_max_seconds": 0.2, "max_job_minutes": 60},
        "storage": {"path": str(db)},
        "guilds": {str(GUILD_ID): {"api_key": GUILD_A_KEY}},
    }
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    write_toml(path, data)
    return path


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (bytes) and threads of a process, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(rest.split()[0]) * 1024
            elif name == "Threads":
                out[name] = int(rest)
    return out


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def reset_peak_rss(pid: int) -> bool:
    """Set VmHWM back to the current VmRSS (Linux clear_refs 5); False if refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


class BotProcess:
    """`bench.bot_proc` against `fd`: the product's bot (or the bare baseline) on its own."""

    def __init__(
        self,
        fd: FakeDiscord,
        config: Path,
        log_path: Path,
        *,
        bare: bool = False,
        image_bound: int = 0,
        log_level: str = "WARNING",
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._env = None if env is None else {**os.environ, **env}
        self._argv = [
            sys.executable,
            "-m",
            "bench.bot_proc",
            "--config",
            str(config),
            "--api",
            fd.api_base,
            "--gateway",
            fd.gateway_url,
            "--cdn",
            fd.base_url + "/cdn",
            "--log-level",
            log_level,
        ]
        if bare:
            self._argv.append("--bare")
        if image_bound:
            self._argv += ["--image-bound", str(image_bound)]
        self._argv += extra_args
        self._fd = fd
        self._log_path = log_path
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def status(self) -> dict[str, int]:
        return proc_status(self.pid)

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    async def __aenter__(self) -> Self:
        sessions = len(self._fd.gateway.log.sessions)
        with self._log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv,
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=log,
                stderr=log,
                env=self._env,
            )
        try:
            await self._fd.gateway.wait_sessions(sessions + 1, 60)
        except TimeoutError:
            await self.__aexit__(None, None, None)
            raise RuntimeError(f"the bot never logged in:\n{self.log_tail()}") from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_WITHIN)
        except TimeoutError:
            proc.kill()
            await proc.wait()


class StampingGateway(Gateway):
    """Notes an interaction's `sent_at` when its frame is written, not when it was queued."""

    async def _send(self, ws: Any, payload: JSON) -> None:
        if payload.get("t") == "INTERACTION_CREATE":
            state = self.world.interactions.get(int(payload["d"]["id"]))
            if state is not None:
                state.sent_at = time.perf_counter()
        await super()._send(ws, payload)


class BenchDiscord(FakeDiscord):
    """The fake Discord with `StampingGateway`; ack deadline and body validation off.

    Its listening socket takes a backlog of `LISTEN_BACKLOG` connections instead of
    aiohttp's 128: discord.py opens one connection per concurrent request, and a burst
    of 1,000 defers overflowed the fake's accept queue, so that the kernel's 1 s SYN
    retry, not the bot, made the slowest acks.
    """

    def __init__(self) -> None:
        super().__init__(ack_deadline=None, validate=False)
        self.gateway = StampingGateway(self.world, self.bot_token)
        self.world.emit = self.gateway.dispatch

    async def start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self.http.handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.world.base_url = self.base_url


class LoopLag:
    """How late this process's event loop wakes a 5 ms sleeper: is the fake keeping up?"""

    def __init__(self, tick: float = 0.005, limit_seconds: float = 600.0) -> None:
        self.tick = tick
        self.limit = limit_seconds
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        for _ in range(int(self.limit / self.tick)):
            start = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.lags.append(time.perf_counter() - start - self.tick)

    def start(self) -> None:
        self.lags.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def worst_ms(self) -> float:
        return max(self.lags, default=0.0) * 1000


def noise_png(target_bytes: int, seed: int = 1) -> bytes:
    """A real PNG of random RGB noise (incompressible) of about `target_bytes`."""
    width = 1600 if target_bytes < 8 * MB else 2400
    height = max(1, target_bytes // (3 * width + 1))
    pixels = random.Random(seed).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def machine() -> str:
    cores = os.cpu_count() or 0
    return f"{cores} cores, Python {sys.version.split()[0]}"
