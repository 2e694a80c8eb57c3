"""The bot as real processes against the fakes: `storyboard-bot run` (tests/launch_bot.py)
started, killed and restarted by a test, and what they left in the store and on Discord.

Shared by tests/test_faults.py (one process) and tests/test_fleet_e2e.py (a fleet of
shard processes over one PostgreSQL). `Senders` tells which process sent a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from tests.backends import rows, storage_toml
from tests.fake_discord import FakeDiscord
from tests.fake_discord.models import Channel, Guild, Member
from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider import FakeProvider
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY

ROOT = Path(__file__).resolve().parents[1]
# The environment variables the processes' configs name for the guilds' keys.
KEY_A_ENV, KEY_B_ENV = "GUILD_A_KEY_FOR_TEST", "GUILD_B_KEY_FOR_TEST"
KEYS = {KEY_A_ENV: GUILD_A_KEY, KEY_B_ENV: GUILD_B_KEY}


def write_process_config(
    path: Path,
    provider: FakeProvider,
    storage: dict[str, str],
    *,
    rate: float = 50,
    lease: float = 1,
    timeout: float = 5,
    guilds: Mapping[int, str] | None = None,
) -> None:
    """A config file as an operator writes it: `guilds` maps each guild to the
    environment variable holding its key (default: the standard guild, key A)."""
    keys = guilds if guilds is not None else {GUILD_ID: KEY_A_ENV}
    tables = "".join(f'[guilds."{gid}"]\napi_key_env = "{env}"\n\n' for gid, env in keys.items())
    path.write_text(
        f"""
[discord]
token = "file-token-should-be-overridden"

[provider]
base_url = "{provider.base_url}"
timeout_seconds = {timeout}
max_requests_per_second = {rate}

[tracking]
poll_min_seconds = 0.05
poll_max_seconds = 0.2
# A killed process holds its delivery claim this long (production: 60 s), and the
# process that finds it held looks again once it ran out (production: 60 s at least).
delivery_lease_seconds = {lease}
delivery_retry_seconds = 0.2

{storage_toml(storage)}
{tables}""",
        encoding="utf-8",
    )


class Senders:
    """Which of the test's bot processes sent a request to a fake, for the fakes'
    `sender_of`: the client's TCP port names a socket (/proc/net/tcp), and the socket is
    one of that process's open files (/proc/PID/fd). Asked while the request is open, so
    the socket still exists; a process killed since can't be asked about afterwards."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}  # pid -> the name the test gave the process

    def add(self, pid: int, name: str) -> None:
        self.names[pid] = name

    def __call__(self, port: int) -> str | None:
        inode = _socket_of_port(port)
        if inode is None:
            return None
        for pid, name in self.names.items():
            if inode in _sockets_of(pid):
                return name
        return None


def _socket_of_port(port: int) -> int | None:
    """The inode of the open TCP socket whose local port is `port`."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table, encoding="ascii") as lines:
            next(lines)  # the header
            for line in lines:
                fields = line.split()
                local, inode = fields[1], int(fields[9])
                if inode and int(local.rsplit(":", 1)[1], 16) == port:
                    return inode
    return None


def _sockets_of(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` holds open."""
    found = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    found.add(int(target[len("socket:[") : -1]))
    return found


@contextlib.asynccontextmanager
async def bot_process(
    fd: FakeDiscord,
    config: Path,
    log: Path,
    *,
    shard: tuple[int, int] | None = None,
    senders: Senders | None = None,
    name: str = "bot",
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`storyboard-bot run` (tests/launch_bot.py) until its gateway session began; its
    log goes to `log`. With `shard` (`(shard_id, shard_count)`) it runs that one shard,
    told by the environment as in production (STORYBOARD_SHARD_IDS / _COUNT). With
    `senders`, the process is known there as `name` from its start.

    On exit the process is killed if the test left it running."""
    env = {
        **os.environ,
        "FAKE_DISCORD_API": fd.api_base,
        "FAKE_DISCORD_GATEWAY": fd.gateway_url,
        "DISCORD_TOKEN": fd.bot_token,
        **KEYS,
    }
    if shard is not None:
        env |= {"STORYBOARD_SHARD_IDS": str(shard[0]), "STORYBOARD_SHARD_COUNT": str(shard[1])}
    began = fd.gateway.log.began.count(shard)
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.launch_bot",
            str(config),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    if senders is not None:
        senders.add(proc.pid, name)
    try:
        session = asyncio.ensure_future(fd.gateway.wait_began(shard, began + 1, 30))
        exited = asyncio.ensure_future(proc.wait())
        await asyncio.wait({session, exited}, return_when=asyncio.FIRST_COMPLETED)
        for waiting in (session, exited):
            waiting.cancel()
        if not session.done() or session.cancelled():
            raise AssertionError(f"{name} ended before its session began:\n{log_tail(log)}")
        session.result()  # the wait's own timeout
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def log_tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


async def eventually(check: Callable[[], Any], within: float = 15.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened: {what or check}")
        await asyncio.sleep(0.02)


def stored_jobs(storage: dict[str, str]) -> list[dict[str, Any]]:
    """The jobs table as another process sees it."""
    return rows(storage, "SELECT * FROM jobs ORDER BY id")


def channel_videos(fd: FakeDiscord, channel_id: int) -> list[dict[str, Any]]:
    return [
        m
        for m in fd.messages_in(channel_id)
        if any(str(a["filename"]).endswith(".mp4") for a in m["attachments"])
    ]


def card_fields(fd: FakeDiscord, row: dict[str, Any]) -> dict[str, str]:
    card = fd.messages.get(row["card_message_id"] or 0)
    if card is None:
        return {}
    return {f["name"]: f["value"] for f in card["embeds"][0]["fields"]}


async def open_and_submit(
    fd: FakeDiscord, guild: Guild, channel: Channel, user: Member, scene: str
) -> Any:
    """/storyboard with one 10 s shot, and its form sent with `scene`: the submission's
    interaction, once the bot answered it (deferred)."""
    ix = await fd.run_slash_command(
        guild=guild,
        channel=channel,
        user=user,
        name="storyboard",
        options={"shots": 1, "seconds": 10},
    )
    await ix.wait_callback(timeout=10)
    sub = await fd.submit_modal(ix, {"shot_1": scene})
    await sub.wait_callback(timeout=10)
    return sub


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0


def assert_no_secrets(fd: FakeDiscord, *logs: Path) -> None:
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        for key in KEYS.values():
            assert key not in text
        assert fd.bot_token not in text
