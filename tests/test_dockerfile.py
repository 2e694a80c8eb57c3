"""The Dockerfile and .dockerignore, read as Docker reads them (no engine runs here).

A cheap guard on what matters for running the image as a service: a slim
Python 3.11 base, a non-root user, runtime dependencies only, the config and
database where the README says, a health check without curl. The health
check command itself is run against a live bot in `test_ops.py`.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Instruction:
    name: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD / HEALTHCHECK ... CMD / VOLUME."""
        text = self.args[self.args.index("CMD ") + 4 :] if self.name == "HEALTHCHECK" else self.args
        value = json.loads(text)
        assert isinstance(value, list), self
        return [str(v) for v in value]


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Instructions grouped by build stage (each FROM starts one); comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the file ends inside a continued line"
    stages: list[list[Instruction]] = []
    for line in logical:
        name, _, args = line.partition(" ")
        instruction = Instruction(name.upper(), args.strip())
        if instruction.name == "FROM":
            stages.append([])
        assert stages, f"{line!r} comes before any FROM"
        stages[-1].append(instruction)
    return stages


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""

    def regex(pattern: str) -> re.Pattern[str]:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out, i = out + pattern[i : end + 1], end + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out)

    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.removeprefix("!").strip().strip("/")
        rx = regex(pattern)
        if any(rx.fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final(stages: list[list[Instruction]]) -> list[Instruction]:
    return stages[-1]


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def only(stage: list[Instruction], name: str) -> list[Instruction]:
    return [i for i in stage if i.name == name]


def test_every_stage_is_slim_python_3_11(stages: list[list[Instruction]]) -> None:
    for stage in stages:
        image = stage[0].args.split()[0]
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", image), image


def test_the_bot_runs_as_a_user_that_is_not_root(final: list[Instruction]) -> None:
    users = only(final, "USER")
    assert users, "no USER in the final stage: the bot would run as root"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0"), user
    # Nothing after the last USER switches back.
    assert final.index(users[-1]) > max(final.index(i) for i in only(final, "RUN"))


def test_the_health_check_calls_the_ops_endpoint_with_python(final: list[Instruction]) -> None:
    [check] = only(final, "HEALTHCHECK")
    command = check.exec_form()
    assert command[:2] == ["python", "-c"]
    code = command[2]
    assert "urllib.request" in code
    assert "/healthz" in code
    assert "127.0.0.1" in code
    assert not re.search(r"\b(curl|wget)\b", check.args)
    # The port it calls is the one the image exposes.
    env = " ".join(i.args for i in only(final, "ENV"))
    port = re.search(r"STORYBOARD_OPS_PORT=(\d+)", env)
    assert port is not None
    assert only(final, "EXPOSE")[0].args.split()[0] == port.group(1)


def test_cmd_runs_the_bot_on_the_mounted_config(final: list[Instruction]) -> None:
    [cmd] = only(final, "CMD")
    assert cmd.exec_form() == ["storyboard-bot", "run", "--config", "/config/config.toml"]
    assert not only(final, "ENTRYPOINT")


def test_the_database_lives_on_the_data_volume(final: list[Instruction]) -> None:
    volumes = [v for i in only(final, "VOLUME") for v in i.exec_form()]
    assert volumes == ["/data"]
    setup = " ".join(i.args for i in only(final, "RUN"))
    assert re.search(r"chown\s+\S+\s+/data\b", setup), "the bot's user could not write /data"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'path = "/data/storyboard.sqlite3"' in readme


def test_only_runtime_dependencies_are_installed(stages: list[list[Instruction]]) -> None:
    runs = [i.args for stage in stages for i in only(stage, "RUN")]
    installs = [r for r in runs if "pip install" in r]
    assert installs
    for run in installs:
        assert "[dev]" not in run, run
        assert not re.search(r"pip install[^&]*\s-e\s", run), f"editable install: {run}"
    # The requirements are read from [project] dependencies and the `postgres` extra (one
    # image serves a fleet on PostgreSQL), never the dev tools.
    reader = next(r for r in runs if "tomllib" in r)
    assert "['dependencies']" in reader
    assert re.findall(r"\['optional-dependencies'\]\['(\w+)'\]", reader) == ["postgres"]
    assert any(re.search(r"pip install (--no-deps )?\.(\s|$)", r) for r in runs)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.startswith("prometheus-client") for d in pyproject["project"]["dependencies"])


def test_the_build_context_has_what_copy_needs_and_nothing_secret(
    stages: list[list[Instruction]], ignore_patterns: list[str]
) -> None:
    sources: list[str] = []
    for stage in stages:
        for copy in only(stage, "COPY"):
            words = [w for w in copy.args.split() if not w.startswith("--")]
            if "--from=" in copy.args:
                continue
            sources += words[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not dockerignore_excludes(ignore_patterns, source), source
    for kept in (
        "bot/config.py",
        "bot/store/migrations/sqlite/0001_jobs.sql",
        "bot/locales/en-US.toml",
        "cogs/__init__.py",
    ):
        assert not dockerignore_excludes(ignore_patterns, kept), kept
    for secret in (
        "config.toml",
        "storyboard.sqlite3",
        "data/storyboard.sqlite3",
        "bot/storyboard.sqlite3-wal",
        ".env",
        ".venv/bin/python",
        ".git/HEAD",
        "tests/test_ops.py",
        "bot/__pycache__/bot.cpython-311.pyc",
    ):
        assert dockerignore_excludes(ignore_patterns, secret), secret
