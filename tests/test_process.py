"""The bot as a process: `storyboard-bot run` against the fakes, stopped by a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.backends import sql, storage_section, storage_toml
from tests.fake_discord import FakeDiscord
from tests.fake_discord.standard import GUILD_ID, add_standard_guild
from tests.fake_provider import FakeProvider, Fault
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import FOLLOWUP

ROOT = Path(__file__).resolve().parents[1]


def write_config(
    path: Path, provider: FakeProvider, storage: dict[str, str], *, timeout: float = 5
) -> None:
    path.write_text(
        f"""
[discord]
token = "file-token-should-be-overridden"

[provider]
base_url = "{provider.base_url}"
timeout_seconds = {timeout}

{storage_toml(storage)}
[guilds."{GUILD_ID}"]
api_key_env = "GUILD_A_KEY_FOR_TEST"
""",
        encoding="utf-8",
    )


async def start_bot(fd: FakeDiscord, config: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "FAKE_DISCORD_API": fd.api_base,
        "FAKE_DISCORD_GATEWAY": fd.gateway_url,
        "DISCORD_TOKEN": fd.bot_token,
        "GUILD_A_KEY_FOR_TEST": GUILD_A_KEY,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.launch_bot",
        str(config),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_sigterm_mid_submission_finishes_it_then_exits_cleanly(
    fake_discord: FakeDiscord, fake_provider: FakeProvider, tmp_path: Path, store_backend: str
) -> None:
    fd = fake_discord
    std = add_standard_guild(fd)
    config = tmp_path / "config.toml"
    write_config(config, fake_provider, storage_section(store_backend, tmp_path))
    proc = await start_bot(fd, config)
    try:
        await fd.wait_ready(timeout=30)
        ix = await fd.run_slash_command(
            guild=std.guild,
            channel=std.text,
            user=std.alice,
            name="storyboard",
            options={"shots": 1, "seconds": 10},
        )
        await ix.wait_callback(timeout=10)
        # The provider takes a while to answer; the stop arrives while the create is under way.
        fake_provider.inject(Fault(route="create", kind="slow", delay=1.0))
        sub = await fd.submit_modal(ix, {"shot_1": "A lighthouse at night."})
        await sub.wait_callback(timeout=10)
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert "stopping on signal" in log
    # The submission under way was finished, not cut off: the member got the answer.
    replies = [c for c in fd.calls_to(FOLLOWUP) if c.params.get("webhook_token") == sub.token]
    assert replies
    assert replies[-1].status == 200
    assert "is queued" in str(replies[-1].json)
    assert len(fake_provider.requests_to("create")) == 1
    assert GUILD_A_KEY not in log
    assert fd.bot_token not in log


# Docker sends SIGKILL 10 s after SIGTERM (its default grace); the stop must be over first,
# with room for a slow host.
DOCKER_SAFE_STOP_SECONDS = 8


async def test_sigterm_with_a_submission_stuck_stops_in_time_and_leaves_it_pending(
    fake_discord: FakeDiscord, fake_provider: FakeProvider, tmp_path: Path, store_backend: str
) -> None:
    fd = fake_discord
    std = add_standard_guild(fd)
    config = tmp_path / "config.toml"
    storage = storage_section(store_backend, tmp_path)
    # The provider's timeout outlasts the stop: the create is still waiting at the deadline.
    write_config(config, fake_provider, storage, timeout=60)
    proc = await start_bot(fd, config)
    try:
        await fd.wait_ready(timeout=30)
        ix = await fd.run_slash_command(
            guild=std.guild,
            channel=std.text,
            user=std.alice,
            name="storyboard",
            options={"shots": 1, "seconds": 10},
        )
        await ix.wait_callback(timeout=10)
        fake_provider.inject(Fault(route="create", kind="slow", delay=30))
        sub = await fd.submit_modal(ix, {"shot_1": "A lighthouse at night."})
        await sub.wait_callback(timeout=10)
        for _ in range(500):  # the create has reached the provider, which holds it
            if fake_provider.requests_to("create"):
                break
            await asyncio.sleep(0.02)
        assert len(fake_provider.requests_to("create")) == 1
        loop = asyncio.get_running_loop()
        began = loop.time()
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
        took = loop.time() - began
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert took < DOCKER_SAFE_STOP_SECONDS, f"the stop took {took:.1f} s\n{log}"
    assert "Traceback" not in log
    assert "never retrieved" not in log
    # Cut off, not failed: the job stays `pending`, for the next start to look up; and its
    # send's hold is let go, so that start need not wait for the 60 s lease to run out.
    assert await sql(storage, "SELECT id, state, send_lease_until FROM jobs") == [
        {"id": 1, "state": "pending", "send_lease_until": None}
    ]
    proc = await start_bot(fd, config)
    try:
        for _ in range(750):  # 15 s, a quarter of the lease
            [job] = await sql(storage, "SELECT state FROM jobs")
            if job["state"] != "pending":
                break
            await asyncio.sleep(0.02)
        assert job["state"] == "uncertain"  # it may have reached the provider: looked up
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=30)
