"""An admin's first hour at the terminal: every failure is one line in words, exit code 1,
never a traceback (issue 15)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config_checks import EXAMPLE_KEYS, EXAMPLE_TOKENS, is_example_host
from tests.fake_discord import FakeDiscord
from tests.fake_provider import FakeProvider
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
GOOD = '[provider]\nbase_url = "https://relay.test.dev/v1"\n'


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env={**os.environ, "DISCORD_TOKEN": "a.token.that-would-log-in", **(env or {})},
    )


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("warning: ")]


# -- the config file itself, in `run` and `check-config`, before Discord ---------------


def _directory(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "config.toml"
    path.mkdir()
    return path, f"{path}: (file): is a directory, not a file; name the config file itself"


def _not_utf8(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "config.toml"
    path.write_bytes(GOOD.encode() + b'# caf\xe9 in Latin-1\n[defaults]\nmodel = "sora-2"\n')
    return path, (
        f"{path}: (file): not UTF-8 text (byte 0xe9 at offset {len(GOOD) + 5}); save it as UTF-8"
    )


def _storage_under_a_file(tmp_path: Path) -> tuple[Path, str]:
    blocker = tmp_path / "data"
    blocker.write_text("not a directory")
    path = write(tmp_path, GOOD + '[storage]\npath = "data/storyboard.sqlite3"\n')
    db = tmp_path / "data" / "storyboard.sqlite3"
    return path, (
        f"{path}: storage.path: {blocker} is a file, not a directory, so {db} can't be created"
    )


def _storage_is_a_directory(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "db").mkdir()
    path = write(tmp_path, GOOD + '[storage]\npath = "db"\n')
    db = tmp_path / "db"
    return path, (
        f"{path}: storage.path: {db} is a directory; name a file in it, like"
        f" {db / 'storyboard.sqlite3'}"
    )


@pytest.mark.parametrize(
    "problem", [_directory, _not_utf8, _storage_under_a_file, _storage_is_a_directory]
)
@pytest.mark.parametrize("command", ["run", "check-config"])
def test_a_config_file_that_cant_be_used_is_named_in_one_line(
    tmp_path: Path, problem: object, command: str
) -> None:
    path, expected = problem(tmp_path)  # type: ignore[operator]
    args = ("run", "--config", str(path)) if command == "run" else ("check-config", str(path))
    result = cli(*args)
    assert result.returncode == 1
    assert result.stderr == expected + "\n"
    assert result.stdout == ""


def test_an_unreadable_config_file_is_named_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    path.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads any file; drop the capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: every file is readable")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    for args in (["run", "--config", str(path)], ["check-config", str(path)]):
        result = subprocess.run(
            [*prefix, sys.executable, "-m", "bot", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
            env={**os.environ, "DISCORD_TOKEN": "a.token.that-would-log-in"},
        )
        assert result.returncode == 1
        assert result.stderr == (
            f"{path}: (file): can't be read: permission denied; the user running the bot"
            " must be able to read it\n"
        )


# -- config mistakes: all at once, strict types, settings that fail every job -----------


def test_unknown_fields_and_bad_values_are_reported_together_with_a_suggestion(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        """
[provider]
base_url = "https://relay.test.dev/v1"
timeout_secnds = 30

[defaults]
seconds = 20

[gilds."123"]
api_key = "sk-one-two-three-four"
""",
    )
    result = cli("check-config", str(path))
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"{path}: provider.timeout_secnds: unknown setting; did you mean 'timeout_seconds'?",
        f"{path}: gilds: unknown setting; did you mean 'guilds'?",
        f"{path}: defaults.seconds: 20 is not one of 10, 15, 25 (profile relay)",
    ]
    assert "sk-one-two" not in result.stderr + result.stdout


def test_a_boolean_or_a_quoted_number_is_refused_not_read_as_a_number(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[provider]
base_url = "https://relay.test.dev/v1"
max_requests_per_second = true
timeout_seconds = "30"

[images]
max_mb = true

[guilds."123"]
api_key = "sk-one-two-three-four"
seconds = 10.0
watermark = "no"
""",
    )
    result = cli("check-config", str(path))
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f'{path}: provider.timeout_seconds: Input should be a valid number (the file says "30")',
        f"{path}: provider.max_requests_per_second: Input should be a valid number"
        " (the file says true)",
        f"{path}: images.max_mb: Input should be a valid number (the file says true)",
        f"{path}: guilds.123.seconds: Input should be a valid integer (the file says 10.0)",
        f'{path}: guilds.123.watermark: Input should be a valid boolean (the file says "no")',
    ]


def test_settings_that_make_every_job_fail_are_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[provider]
base_url = "https://relay.test.dev/v1"
profile = "openai"

[defaults]
seconds = 8

[guilds."111"]
api_key = "sk-one-one-one-one"
watermark = true

[guilds."222"]
api_key = "sk-two-two-two-two"
private = true

[guilds."333"]
api_key = "sk-three-three-three"
max_seconds = 4
""",
    )
    result = cli("check-config", str(path))
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"{path}: guilds.111.watermark: the openai profile has no such field; leave it false",
        f"{path}: guilds.222.private: the openai profile has no such field; leave it false",
        f"{path}: guilds.333.seconds: 8 is over max_seconds 4",
    ]


# -- warnings: placeholders from the example, a key over plain http --------------------


def test_the_examples_placeholders_and_a_key_over_http_are_warned_about(tmp_path: Path) -> None:
    # The example switched from the sandbox to a real provider, as the README says, with
    # its placeholders left in.
    real = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace('profile = "sandbox"', 'profile = "relay"', 1)
        .replace("# base_url = ", "base_url = ", 1)
        .replace('# api_key = "sk-replace', 'api_key = "sk-replace', 1)
    )
    text = real + (
        '\n[guilds."222"]\napi_key = "sk-a-real-looking-key-2222"\n'
        'base_url = "http://relay.lan:3000/v1"\n'
    )
    path = write(tmp_path, text)
    result = cli("check-config", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: {path}: provider.base_url: https://api.example.com/v1 is the example's"
        " placeholder; put your provider's URL",
        f"warning: {path}: guilds.123456789012345678.api_key: still the example's placeholder;"
        " put this server's key",
        f"warning: {path}: guilds.222.base_url: http://relay.lan:3000/v1 is plain http:"
        " guild 222's key would travel in clear; use https://",
    ]


def test_the_placeholders_warned_about_are_the_examples_own() -> None:
    """Every key, token and URL the example ships (commented or not) is one the check knows."""
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = set(re.findall(r'"(sk-[^"]*)"', text))
    tokens = set(re.findall(r'token = "([^"]*)"', text))
    urls = set(re.findall(r'"(https?://[^"]*)"', text))
    assert keys and tokens and urls
    assert keys <= EXAMPLE_KEYS
    assert tokens <= EXAMPLE_TOKENS
    assert all(is_example_host(u) for u in urls), urls


# -- check-config --ping: one line per guild -------------------------------------------


@pytest_asyncio.fixture
async def new_api_provider() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(keys={GUILD_B_KEY}, list_route=False) as provider:
        yield provider


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port that refuses connections for the whole test: bound, never listened on.
    (Bound then closed, another test's server or connection could take it meanwhile.)"""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


async def test_ping_says_per_guild_reachable_key_and_list_route(
    fake_provider: FakeProvider, new_api_provider: FakeProvider, tmp_path: Path, refused_port: int
) -> None:
    dead = f"http://127.0.0.1:{refused_port}/v1"
    path = write(
        tmp_path,
        f"""
[provider]
base_url = "{fake_provider.base_url}"

[guilds."1"]
api_key = "{GUILD_A_KEY}"

[guilds."2"]
api_key = "{GUILD_B_KEY}"
base_url = "{new_api_provider.base_url}"

[guilds."3"]
api_key = "sk-not-a-key-this-provider-knows"

[guilds."4"]
api_key = "{GUILD_A_KEY}"
base_url = "{dead}"

[guilds."5"]
""",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check-config",
        str(path),
        "--ping",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 1
    a, b = fake_provider.base_url, new_api_provider.base_url
    assert [line for line in stdout.splitlines() if line.startswith("guild ")][-3:] == [
        f"guild 1: {a}: reachable, key accepted, list route present",
        f"guild 2: {b}: reachable, key accepted, no list route (HTTP 404): a create whose"
        " answer is lost can't be looked up; members are asked before anything is submitted"
        " again",
        "guild 5: no key: this server can't submit",
    ]
    assert error_lines(stderr) == [
        f"guild 3: {a}: key refused (HTTP 401): check the key, and that it is for this provider",
        f"guild 4: {dead}: unreachable (connection refused or no route to the host): check"
        " base_url and the network",
    ]
    assert "retry" not in stderr
    assert GUILD_A_KEY not in stdout + stderr


# -- the command line's own options ------------------------------------------------------


def test_render_with_a_missing_image_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "render", "--seconds", "10", "--image", str(missing)],
        input="a cat\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == f"error: {missing}: no such file.\n"


def test_log_level_is_accepted_in_any_case(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    for level in ("debug", "Warning", "ERROR"):
        result = cli("run", "--log-level", level, "--config", str(missing))
        assert result.returncode == 1
        assert result.stderr == f"{missing}: (file): not found\n"
    wrong = cli("run", "--log-level", "loud", "--config", str(missing))
    assert wrong.returncode == 2
    assert "invalid choice: 'LOUD'" in wrong.stderr


# -- Discord unreachable: one line, exit 1, within the login timeout ---------------------


async def launch(
    api: str,
    config: Path,
    *extra: str,
    gateway: str = "ws://127.0.0.1:9/",
    token: str = "a.token.that-would-log-in",
) -> tuple[int | None, str]:
    """`storyboard-bot run` (through tests/launch_bot.py) against Discord at `api`."""
    env = {
        **os.environ,
        "FAKE_DISCORD_API": api,
        "FAKE_DISCORD_GATEWAY": gateway,
        "DISCORD_TOKEN": token,
        "LOGIN_SECONDS": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.launch_bot",
        str(config),
        *extra,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, err.decode()


def only_error(log: str) -> str:
    assert "Traceback" not in log, log
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1, log
    assert log.rstrip().endswith(errors[0]), log  # nothing after it: the process ended
    return errors[0].split(" bot.runner: ", 1)[1]


ADVICE = (
    "; check the network, DNS, firewall or proxy of this machine"
    " (https://discord.com must be reachable)"
)


async def test_discord_refusing_the_connection_is_one_line(
    tmp_path: Path, refused_port: int
) -> None:
    port = refused_port
    api = f"http://127.0.0.1:{port}/api/v10"
    code, log = await launch(api, write(tmp_path, GOOD))
    assert code == 1
    assert only_error(log) == (
        f"cannot reach Discord at {api}: can't connect to 127.0.0.1:{port}"
        f" (connection refused){ADVICE}"
    )


async def test_discord_name_that_does_not_resolve_is_one_line(tmp_path: Path) -> None:
    api = "http://discord.invalid/api/v10"  # RFC 2606: .invalid never resolves
    code, log = await launch(api, write(tmp_path, GOOD))
    assert code == 1
    assert only_error(log) == (
        f"cannot reach Discord at {api}: the name discord.invalid does not resolve (DNS){ADVICE}"
    )


async def test_discord_accepting_and_never_answering_is_one_line(tmp_path: Path) -> None:
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepted, read, never answered

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    api = f"http://127.0.0.1:{port}/api/v10"
    try:
        code, log = await launch(api, write(tmp_path, GOOD), "--log-level", "info")
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert held, "the bot never connected"
    assert code == 1
    assert only_error(log) == f"cannot reach Discord at {api}: no answer within 1 s{ADVICE}"


async def test_a_database_that_cant_be_opened_is_one_line(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    db = tmp_path / "storyboard.sqlite3"
    db.write_bytes(b"this is not an SQLite database, but some other file " * 100)
    config = write(tmp_path, GOOD + f'[storage]\npath = "{db}"\n')
    code, log = await launch(
        fake_discord.api_base,
        config,
        gateway=fake_discord.gateway_url,
        token=fake_discord.bot_token,
    )
    assert code == 1
    assert only_error(log) == (f"cannot open the database {db}: file is not a database")


async def test_a_token_discord_refuses_is_one_line_naming_where_it_came_from(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = write(tmp_path, GOOD + f'[storage]\npath = "{tmp_path / "db.sqlite3"}"\n')
    code, log = await launch(
        fake_discord.api_base,
        config,
        gateway=fake_discord.gateway_url,
        token="not-the-bot-token",
    )
    for call in fake_discord.calls_to("GET /users/@me"):
        fake_discord.expect_problem(call)
    assert code == 1
    assert only_error(log) == (
        f"{config}: DISCORD_TOKEN: Discord refused the token (401); copy it again from the"
        " Developer Portal (your application, Bot, Reset Token)"
    )
    assert "not-the-bot-token" not in log
