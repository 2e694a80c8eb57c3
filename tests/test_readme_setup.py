"""The README's setup sections say what the code does: built from the code's own constants
so they can't drift (issue 15). The invite link and permissions: tests/test_invite.py."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from bot.config import ConfigFile
from bot.config_checks import RESTART_ONLY
from tests.harness import World

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def paragraph(start: str) -> str:
    """From the line starting with `start` to the next blank line, on one line."""
    begin = README.index(start)
    end = README.find("\n\n", begin)
    return " ".join(README[begin : end if end >= 0 else None].split())


def test_the_reload_paragraph_names_every_section_and_every_restart_only_setting() -> None:
    text = paragraph("**What a reload applies.**")
    applied, _, restart = text.partition("need a restart")
    restart_named = re.findall(r"`([a-z_]+\.[a-z_]+)`", restart)
    assert restart_named == list(RESTART_ONLY)
    sections = set(ConfigFile.model_fields)
    # Every other section is applied by a reload, and says so.
    restart_sections = {name.split(".")[0] for name in RESTART_ONLY}
    for section in sorted(sections - restart_sections):
        shown = '`[guilds."<id>"]`' if section == "guilds" else f"`[{section}]`"
        assert shown in applied, section


def test_the_healthcheck_port_variable_is_the_dockerfiles() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK") :]
    variable = re.search(r"os\.environ\.get\('([A-Z_]+)', '(\d+)'\)", healthcheck)
    assert variable is not None
    name, default = variable.groups()
    assert "ENV" in dockerfile and f"{name}={default}" in dockerfile
    text = paragraph("- `GET /healthz`")
    assert f"`127.0.0.1:${name}` ({default} in the image)" in text
    assert f"-e {name}=" in text


async def test_the_direct_messages_paragraph_matches_the_commands_guild_only_flags(
    world: World,
) -> None:
    text = paragraph("**Direct messages.**")
    in_dms, _, rest = text.partition("also work in a direct message")
    server_only = rest[rest.rindex(". ") :]
    assert server_only.rstrip().endswith("are server-only.")
    commands = world.bot.tree.get_commands(type=None)  # slash commands and menus
    assert {c.name for c in commands if not c.guild_only} == set(
        re.findall(r"`/([a-z-]+)`", in_dms) + re.findall(r'"([A-Z][a-z ]+)" menu', in_dms)
    )
    assert {c.name for c in commands if c.guild_only} == set(
        re.findall(r"`/([a-z-]+)`", server_only)
    )


def test_the_setup_section_says_which_intents_and_the_bot_asks_for_them_only() -> None:
    from bot.bot import StoryboardBot
    from bot.config import parse_config

    config = parse_config({"provider": {"base_url": "https://relay.test.dev/v1"}}, ROOT / "c")
    intents = StoryboardBot(config).intents
    assert [name for name, on in intents if on] == ["guilds"]
    text = README.split("## Set up the Discord side", 1)[1].split("\n## ", 1)[0]
    assert "only for the non-privileged `guilds` intent" in text


def test_the_test_command_is_the_one_ci_runs_and_installs_the_store_backends() -> None:
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", section, re.S)
    test_command = commands[1]
    assert test_command == "scripts/test"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.split("# The README's test command:\n", 1)[1].splitlines()[0] == test_command
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    assert "pip install -q -e '.[dev,postgres]'" in script
    assert "apt-get install" in script and "postgresql" in script
    assert os.access(ROOT / "scripts" / "test", os.X_OK)
    # Both extras carry asyncpg: the store's tests run, and mypy reads the store.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"][
        "optional-dependencies"
    ]
    for extra in ("dev", "postgres"):
        assert any(re.match(r"asyncpg\b", d) for d in extras[extra]), extra


def test_the_readme_says_which_store_backends_the_tests_run_on_by_default() -> None:
    from tests.backends import DEFAULT_STORE
    from tests.pg_server import ENV_URL

    text = paragraph("It installs what is missing from Debian")
    assert f"(default `{DEFAULT_STORE}`)" in text
    assert f"`{ENV_URL}=postgresql://...`" in text
