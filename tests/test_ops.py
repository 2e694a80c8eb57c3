"""Running it like a service: the ops endpoint, JSON logs, the Docker image's guards.

The endpoint is tested over real HTTP on 127.0.0.1, against the real bot that
the `world` fixture runs (and, once, against `storyboard-bot run` as a process,
with the Dockerfile's own HEALTHCHECK command).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.bot import StoryboardBot
from bot.config import ConfigError, OpsSection, load_config, parse_config
from bot.logs import setup_logging
from tests.backends import storage_section, storage_toml
from tests.fake_discord import FakeDiscord
from tests.fake_discord.standard import GUILD_ID, add_standard_guild
from tests.fake_provider import FakeProvider, Fault
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import World, config_for
from tests.test_process import start_bot

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def get(url: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when it is absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


async def with_ops(world: World, **ops: Any) -> str:
    """Restart the world's bot with the ops endpoint on a free port; its base URL.

    Port 0, the one bound read back: a port picked free beforehand was once taken, between
    the pick and the bind, by another test worker's connection."""
    config = world.config_with(ops={"listen": "127.0.0.1:0", **ops})
    await world.restart(config)
    assert world.bot.ops is not None
    base = f"http://127.0.0.1:{world.bot.ops.port}"

    async def healthy() -> bool:
        return (await get(base + "/healthz"))[0] == 200

    await world.wait_until(healthy)
    return base


# -- /healthz and /metrics against the running bot ----------------------------------------


async def test_healthz_is_ok_and_metrics_describe_the_bot(world: World) -> None:
    base = await with_ops(world)
    status, ctype, body = await get(base + "/healthz")
    assert status == 200
    assert ctype.startswith("application/json")
    assert json.loads(body) == {"gateway": True, "store": True}

    status, ctype, text = await get(base + "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain")
    assert sample(text, "storyboard_gateway_connected") == 1
    assert sample(text, "storyboard_store_up") == 1
    assert sample(text, "storyboard_tracker_open_jobs") == 0
    # Every state is there, at 0 while there are no jobs.
    for state in ("pending", "active", "completed", "failed", "uncertain", "expired"):
        assert sample(text, "storyboard_jobs", state=state) == 0
    assert sample(text, "storyboard_gateway_latency_seconds") is not None
    for secret in world.secrets:
        assert secret not in text


async def test_metrics_count_provider_requests_jobs_and_errors(world: World) -> None:
    base = await with_ops(world)
    create = {"method": "POST", "route": "create", "outcome": "ok"}
    # The registry is the process's: earlier tests' requests are in it, so compare.
    before = (await get(base + "/metrics"))[2]
    created_before = sample(before, "storyboard_provider_requests_total", **create) or 0

    job = await world.submitted_job("A kite rises.")
    text = (await get(base + "/metrics"))[2]
    assert sample(text, "storyboard_provider_requests_total", **create) == created_before + 1
    latency_count = sample(text, "storyboard_provider_request_duration_seconds_count", **create)
    assert latency_count is not None
    assert latency_count >= 1
    assert sample(text, "storyboard_jobs", state="active") == 1
    assert sample(text, "storyboard_tracker_open_jobs") == 1
    assert job.state == "active"

    # A failing poll is counted by kind, and the retry that follows as ok.
    errors = {"method": "GET", "route": "retrieve", "kind": "server_error"}
    errors_before = sample(text, "storyboard_provider_errors_total", **errors) or 0
    world.provider.inject(Fault(route="retrieve", status=503))

    async def error_counted() -> bool:
        now = (await get(base + "/metrics"))[2]
        return (sample(now, "storyboard_provider_errors_total", **errors) or 0) > errors_before

    await world.wait_until(error_counted)
    text = (await get(base + "/metrics"))[2]
    failed = {"method": "GET", "route": "retrieve", "outcome": "server_error"}
    assert (sample(text, "storyboard_provider_requests_total", **failed) or 0) >= 1
    assert (
        sample(text, "storyboard_provider_requests_total", method="GET", route="retrieve")
        is not None
    )


async def test_healthz_turns_503_when_the_store_is_closed(world: World) -> None:
    base = await with_ops(world)
    await world.bot.store.close()
    status, _, body = await get(base + "/healthz")
    assert status == 503
    answer = json.loads(body)
    assert answer["gateway"] is True
    assert answer["store"] is False
    assert answer["detail"]["store"]
    assert "gateway" not in answer["detail"]
    # /metrics still answers, and says the store is down.
    status, _, text = await get(base + "/metrics")
    assert status == 200
    assert sample(text, "storyboard_store_up") == 0
    assert sample(text, "storyboard_jobs", state="active") is None


async def test_healthz_is_503_for_a_bot_that_never_connected(
    fake_provider: FakeProvider, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    from bot.ops import start_ops

    config = config_for(
        fake_provider, fake_discord, tmp_path / "db.sqlite3", ops={"listen": "127.0.0.1:0"}
    )
    bot = StoryboardBot(config)  # no setup_hook, no login: nothing is up
    server = await start_ops(bot, config.file.ops)
    assert server is not None
    try:
        assert server.port != 0  # the free port it was given, named in its log line
        status, _, body = await get(f"{server.url}/healthz")
    finally:
        await server.stop()
    assert status == 503
    answer = json.loads(body)
    assert answer["gateway"] is False
    assert answer["store"] is False
    assert set(answer["detail"]) == {"gateway", "store"}


async def test_no_listen_means_no_endpoint(world: World) -> None:
    assert world.config.file.ops.listen is None
    assert world.bot.ops is None


async def test_a_port_in_use_stops_the_start_with_a_clear_error(
    fake_provider: FakeProvider, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    from bot.ops import start_ops

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = config_for(
            fake_provider,
            fake_discord,
            tmp_path / "db.sqlite3",
            ops={"listen": f"127.0.0.1:{port}"},
        )
        with pytest.raises(OSError):  # noqa: PT011 (the OS's own error is the point)
            await start_ops(StoryboardBot(config), config.file.ops)


# -- config ------------------------------------------------------------------------------


def ops_issues(ops: dict[str, Any]) -> list[str]:
    data = {"provider": {"base_url": "https://relay.example/v1"}, "ops": ops}
    with pytest.raises(ConfigError) as exc:
        parse_config(data, Path("config.toml"), env={})
    return exc.value.describe().splitlines()


@pytest.mark.parametrize(
    ("listen", "why"),
    [
        ("9100", "must be host:port"),
        (":9100", "must be host:port"),
        ("127.0.0.1", "must be host:port"),
        ("localhost:", "not a number from 0 to 65535"),
        ("127.0.0.1:65536", "not a number from 0 to 65535"),
        ("127.0.0.1:http", "not a number from 0 to 65535"),
        ("::1:9100", "in brackets"),
        ("[nope]:9100", "not an IPv6 address"),
        ("bad host:9100", "not an IP address or host name"),
    ],
)
def test_a_bad_listen_is_named_with_the_reason(listen: str, why: str) -> None:
    [issue] = ops_issues({"listen": listen})
    assert issue.startswith("config.toml: ops.listen: ")
    assert why in issue


def test_a_bad_log_format_is_named() -> None:
    [issue] = ops_issues({"log_format": "xml"})
    assert issue.startswith("config.toml: ops.log_format: ")


@pytest.mark.parametrize(
    ("listen", "stored", "parts"),
    [
        ("127.0.0.1:9100", "127.0.0.1:9100", ("127.0.0.1", 9100)),
        (" 0.0.0.0:9100 ", "0.0.0.0:9100", ("0.0.0.0", 9100)),
        ("localhost:8080", "localhost:8080", ("localhost", 8080)),
        ("[::1]:9100", "[::1]:9100", ("::1", 9100)),
    ],
)
def test_good_listen_values(listen: str, stored: str, parts: tuple[str, int]) -> None:
    section = OpsSection(listen=listen)
    assert section.listen == stored
    assert OpsSection.split_listen(stored) == parts


def test_ops_is_off_and_text_by_default() -> None:
    config = parse_config({"provider": {"base_url": "https://r.example/v1"}}, Path("c.toml"), {})
    assert config.file.ops.listen is None
    assert config.file.ops.log_format == "text"


def test_the_examples_commented_ops_section_and_docker_storage_path_load(tmp_path: Path) -> None:
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    block = example[example.index("# [ops]") :]
    settings = [
        line.removeprefix("# ")
        for line in block.splitlines()
        if re.fullmatch(r"# (\[ops\]|\w+ = .*)", line)
    ]
    assert settings[0] == "[ops]"
    assert len(settings) == 3
    storage = 'path = "storyboard.sqlite3"'
    assert storage in example
    text = example.replace(storage, 'path = "/data/storyboard.sqlite3"') + "\n".join(settings)
    path = tmp_path / "config.toml"
    path.write_text(text + "\n", encoding="utf-8")
    config = load_config(path, {})
    assert config.file.ops.listen == "127.0.0.1:9100"
    assert config.file.ops.log_format == "json"
    assert config.storage_path == Path("/data/storyboard.sqlite3")


# -- JSON logs ---------------------------------------------------------------------------


@pytest.fixture
def root_logging() -> Iterator[None]:
    """setup_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_json_logs_are_one_object_per_line_with_keys_masked() -> None:
    key = "sk-guild-secret-0123456789"
    out = io.StringIO()
    setup_logging("INFO", [key], "json", stream=out)
    log = logging.getLogger("bot.test_ops")
    log.info("job=%s sent with key %s", 7, key)
    log.warning("multi\nline ünïcode")
    try:
        raise RuntimeError(f"provider said: bad key {key}")
    except RuntimeError:
        log.exception("job=%s failed", 8)
    logging.getLogger("discord.http").info("chatter")  # quietened: not written

    text = out.getvalue()
    assert key not in text
    lines = text.splitlines()
    assert len(lines) == 3
    entries = [json.loads(line) for line in lines]
    assert [e["level"] for e in entries] == ["INFO", "WARNING", "ERROR"]
    assert {e["logger"] for e in entries} == {"bot.test_ops"}
    assert entries[0]["message"] == "job=7 sent with key ****"
    assert entries[1]["message"] == "multi\nline ünïcode"
    assert entries[2]["message"] == "job=8 failed"
    assert "RuntimeError: provider said: bad key ****" in entries[2]["exc"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entries[0]["time"])


@pytest.mark.usefixtures("root_logging")
def test_text_logs_stay_the_default() -> None:
    out = io.StringIO()
    setup_logging("INFO", ["sk-secret-abcdefghijkl"], stream=out)
    logging.getLogger("bot.test_ops").info("key %s", "sk-secret-abcdefghijkl")
    line = out.getvalue().strip()
    assert line.endswith("INFO    bot.test_ops: key ****")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


@pytest.mark.usefixtures("root_logging")
def test_a_fleets_process_names_its_shards_in_every_line() -> None:
    for fmt in ("json", "text"):
        out = io.StringIO()
        setup_logging("INFO", [], fmt, stream=out, process="shards 2, 3 of 8")
        logging.getLogger("bot.tracker").info("job=%s delivered", 5)
        line = out.getvalue().strip()
        if fmt == "json":
            assert json.loads(line)["process"] == "shards 2, 3 of 8"
        else:
            assert line.endswith("INFO    [shards 2, 3 of 8] bot.tracker: job=5 delivered")


# -- the process, as Docker runs it -----------------------------------------------------


def dockerfile_healthcheck() -> list[str]:
    """The exec-form command of the Dockerfile's HEALTHCHECK."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    [line] = [ln for ln in text.splitlines() if ln.startswith("HEALTHCHECK ")]
    command: list[str] = json.loads(line[line.index("CMD ") + 4 :])
    return command


async def run_healthcheck(port: int) -> int:
    command = dockerfile_healthcheck()
    assert command[0] == "python"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *command[1:],
        env={**os.environ, "STORYBOARD_OPS_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(proc.wait(), timeout=15)


async def bound_port(proc: asyncio.subprocess.Process, read: list[bytes]) -> int:
    """The ops endpoint's port, from the bot's JSON log line saying where it listens;
    the lines read on the way are kept in `read`."""
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        while line := await proc.stderr.readline():
            read.append(line)
            found = re.match(
                r"ops endpoint listening on http://127\.0\.0\.1:(\d+) ",
                json.loads(line).get("message", ""),
            )
            if found:
                return int(found[1])
    raise AssertionError(b"".join(read).decode())


async def test_the_process_logs_json_and_passes_the_dockerfile_healthcheck(
    fake_discord: FakeDiscord, fake_provider: FakeProvider, tmp_path: Path, store_backend: str
) -> None:
    fd = fake_discord
    std = add_standard_guild(fd)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[discord]
token = "file-token-should-be-overridden"

[provider]
base_url = "{fake_provider.base_url}"
timeout_seconds = 5

{storage_toml(storage_section(store_backend, tmp_path))}
[ops]
listen = "127.0.0.1:0"
log_format = "json"

[guilds."{GUILD_ID}"]
api_key_env = "GUILD_A_KEY_FOR_TEST"
""",
        encoding="utf-8",
    )
    proc = await start_bot(fd, config)
    early: list[bytes] = []  # the log read while the port is looked for
    try:
        # Port 0: the one bound is in the log line (a port picked free beforehand could
        # be taken by another worker's connection before the bot binds it).
        port = await bound_port(proc, early)
        base = f"http://127.0.0.1:{port}"
        await fd.wait_ready(timeout=30)
        for _ in range(200):
            with_status = await get(base + "/healthz")
            if with_status[0] == 200:
                break
            await asyncio.sleep(0.05)
        assert json.loads(with_status[2]) == {"gateway": True, "store": True}
        assert await run_healthcheck(port) == 0
        assert await run_healthcheck(free_port()) != 0  # nothing listening: unhealthy

        ix = await fd.run_slash_command(
            guild=std.guild,
            channel=std.text,
            user=std.alice,
            name="storyboard",
            options={"shots": 1, "seconds": 10},
        )
        await ix.wait_callback(timeout=10)
        sub = await fd.submit_modal(ix, {"shot_1": "A lighthouse at night."})
        await sub.wait_callback(timeout=10)
        for _ in range(200):
            if fake_provider.requests_to("create"):
                break
            await asyncio.sleep(0.05)
        text = ""
        for _ in range(200):
            text = (await get(base + "/metrics"))[2]
            if sample(text, "storyboard_jobs", state="active") == 1:
                break
            await asyncio.sleep(0.05)
        created = {"method": "POST", "route": "create", "outcome": "ok"}
        assert sample(text, "storyboard_provider_requests_total", **created) == 1
        assert sample(text, "storyboard_jobs", state="active") == 1

        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = b"".join(early).decode() + stderr.decode()
    assert proc.returncode == 0, log
    assert GUILD_A_KEY not in log
    assert fd.bot_token not in log
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys()
    messages = [e["message"] for e in entries]
    assert any(m.startswith("ops endpoint listening on http://127.0.0.1:") for m in messages)
    assert any(m.startswith("created task_id=") for m in messages)
    assert "stopping on signal" in messages
