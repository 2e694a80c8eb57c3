"""Shared fixtures: the fake provider, the fake Discord, and the bot wired to both."""

from tests.fake_provider.fixtures import (  # noqa: F401  (pytest fixtures)
    GUILD_A_KEY,
    GUILD_B_KEY,
    fake_openai_provider,
    fake_provider,
)
from tests.harness import world  # noqa: F401  (pytest fixture)

pytest_plugins = ["tests.fake_discord.fixtures", "pytester"]
