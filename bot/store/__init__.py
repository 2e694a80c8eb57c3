"""Where everything the bot keeps lives: SQLite by default, PostgreSQL for a fleet.

`open_store(config)` opens the one the config names. The rest of the bot speaks to the
`StoreApi` protocol (`bot.store.api`) in pydantic models, never in rows.
"""

from __future__ import annotations

from bot.config import Config
from bot.store.jobs import Store
from bot.store.models import (
    COUNTED_STATES,
    DuplicateRequest,
    Job,
    JobState,
    NewJob,
    Resolution,
)

__all__ = [
    "COUNTED_STATES",
    "DuplicateRequest",
    "Job",
    "JobState",
    "NewJob",
    "Resolution",
    "Store",
    "open_store",
]


async def open_store(config: Config) -> Store:
    """The config's database, migrated: PostgreSQL with `[storage] url`, else SQLite."""
    if config.storage_url is not None:
        # Imported here: asyncpg is an extra, needed only by those who configure it.
        from bot.store.postgres import PostgresDatabase

        return Store(await PostgresDatabase.open(config.storage_url.get_secret_value()))
    return await Store.open(config.storage_path)
