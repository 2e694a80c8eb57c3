"""Shared fixtures: the fake provider (and, for end-to-end tests, the fake Discord)."""

from tests.fake_provider.fixtures import (  # noqa: F401  (pytest fixtures)
    GUILD_A_KEY,
    GUILD_B_KEY,
    fake_openai_provider,
    fake_provider,
)
