"""The e2e harness's own guarantees, proven on a small pytest session of its own.

The `world` fixture fails a test whose bot logged an ERROR it did not expect. A check
like that passes silently when broken (it did: it read only the teardown's records),
so these runs show it failing the test that logged the error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CONFTEST = """
from tests.conftest import *  # noqa: F403
pytest_plugins = ["tests.fake_discord.fixtures"]
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:cacheprovider
markers =
    expected_errors(*patterns): errors a test provokes on purpose
"""


@pytest.fixture
def session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytest run in a temporary directory, with this repository's fixtures."""
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    monkeypatch.setenv(  # the repository's `tests` package, importable as in the real run
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    return pytester


def run_session(pytester: pytest.Pytester, tests: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=tests)
    # One backend is enough to show what the fixture does with the bot's logs.
    return pytester.runpytest_subprocess("-q", "-rA", "--store", "sqlite", timeout=150)


def outcome(result: pytest.RunResult, test: str) -> list[str]:
    """The short-summary words for one test: PASSED for its call, ERROR for its teardown."""
    return [
        line.split()[0]
        for line in result.outlines
        if line.split()[1:2] == [f"test_inner.py::{test}[sqlite]"]
    ]


# One session for every case: each starts the bot, and the machine is shared.
INNER = """
import logging
import pytest

async def test_logs_an_error(world):
    logging.getLogger("bot.tracker").error("job=%s: something broke", 7)

async def test_logs_nothing_wrong(world):
    logging.getLogger("bot.tracker").info("all fine")
    logging.getLogger("bot.tracker").warning("a retry, not an error")

async def test_logs_an_exception_from_a_cog(world):
    try:
        raise KeyError("shot_9")
    except KeyError:
        logging.getLogger("cogs.draft.commands").exception("archiving idle drafts failed")

@pytest.mark.expected_errors("^Discord ended the session")
async def test_expected(world):
    logging.getLogger("bot.runner").error("Discord ended the session (LoginFailure): bad token")

@pytest.mark.expected_errors("^Discord ended the session")
async def test_expected_but_another_error(world):
    logging.getLogger("bot.runner").error("Discord ended the session (LoginFailure): bad token")
    logging.getLogger("bot.i18n").error("message x in en-US lacks a field")

@pytest.mark.expected_errors("^Discord ended the session")
async def test_expected_but_never_logged(world):
    pass
"""


def test_an_error_the_bot_logs_fails_the_test_that_logged_it(session: pytest.Pytester) -> None:
    result = run_session(session, INNER)
    assert result.ret != 0
    # Each test's call passes; the fixture's check then fails it (an error at teardown).
    result.assert_outcomes(passed=6, errors=4)
    assert outcome(result, "test_logs_an_error") == ["PASSED", "ERROR"]
    assert outcome(result, "test_logs_nothing_wrong") == ["PASSED"]
    assert outcome(result, "test_logs_an_exception_from_a_cog") == ["PASSED", "ERROR"]
    # An opt-out excuses only the error it names, and only while that error happens.
    assert outcome(result, "test_expected") == ["PASSED"]
    assert outcome(result, "test_expected_but_another_error") == ["PASSED", "ERROR"]
    assert outcome(result, "test_expected_but_never_logged") == ["PASSED", "ERROR"]
    result.stdout.fnmatch_lines_random(
        [
            "*unexpected ERROR logs:*",
            "*ERROR bot.tracker: job=7: something broke*",
            "*ERROR cogs.draft.commands: archiving idle drafts failed [[]KeyError: 'shot_9'[]]*",
            "*ERROR bot.i18n: message x in en-US lacks a field*",
            "*expected error never logged: '^Discord ended the session'*",
        ]
    )
    assert "bot.runner: Discord ended the session" not in result.stdout.str()
