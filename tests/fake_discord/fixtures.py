"""pytest fixtures for the fake Discord; tests/conftest.py imports them.

`fake_discord` fails the test (at teardown) if the bot sent any request Discord would
refuse or the fake does not serve; call `fd.expect_problem(call)` for one a test wants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from .server import FakeDiscord
from .standard import StandardGuild, add_standard_guild
from .validation import load_discord_spec


@pytest.fixture(scope="session")
def discord_openapi() -> None:
    """Load Discord's OpenAPI description once per test session (~3 s)."""
    load_discord_spec()


@pytest_asyncio.fixture
async def fake_discord(discord_openapi: None) -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord with discord.py pointed at it; fails on invalid calls."""
    async with FakeDiscord() as fd:
        with fd.point_discord_py_here():
            yield fd
    fd.assert_all_valid()


@pytest.fixture
def standard_guild(fake_discord: FakeDiscord) -> StandardGuild:
    return add_standard_guild(fake_discord)
