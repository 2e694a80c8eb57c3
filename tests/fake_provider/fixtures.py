"""pytest fixtures for the fake provider; import them in tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fake_provider.server import FakeProvider

GUILD_A_KEY = "sk-guild-a"
GUILD_B_KEY = "sk-guild-b"


@pytest_asyncio.fixture
async def fake_provider() -> AsyncIterator[FakeProvider]:
    """A relay-dialect provider that knows the keys of guilds A and B."""
    async with FakeProvider(keys={GUILD_A_KEY, GUILD_B_KEY}, dialect="relay") as provider:
        yield provider


@pytest_asyncio.fixture
async def fake_openai_provider() -> AsyncIterator[FakeProvider]:
    """The same, speaking OpenAI's official Videos API values."""
    async with FakeProvider(keys={GUILD_A_KEY, GUILD_B_KEY}, dialect="openai") as provider:
        yield provider
