"""Shared fixtures: the fake provider, the fake Discord, the bot wired to both, and the
store backends (`--store`, tests/backends.py) with the PostgreSQL server they need."""

from tests.backends import (  # noqa: F401  (pytest hooks and fixture)
    pg_url,
    pytest_addoption,
    pytest_generate_tests,
    store_backend,
)
from tests.fake_provider.fixtures import (  # noqa: F401  (pytest fixtures)
    GUILD_A_KEY,
    GUILD_B_KEY,
    fake_openai_provider,
    fake_provider,
)
from tests.harness import world  # noqa: F401  (pytest fixture)
from tests.pg_server import pg_server  # noqa: F401  (pytest fixture)

pytest_plugins = ["tests.fake_discord.fixtures", "pytester"]
