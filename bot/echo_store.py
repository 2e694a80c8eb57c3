"""What a member typed into a refused quick form, kept a day for its Fix button.

The only SQL for form echoes, sharing the store's connection and write lock.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.storyboard import StoryboardSettings

# A Fix button is pressed within minutes; a day is plenty, and bounds the table.
KEEP_SECONDS = 86400


class FormEcho(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    user_id: int
    guild_id: int | None
    channel_id: int
    settings: StoryboardSettings
    fields: tuple[str, ...]
    stash_id: int | None = None
    created_at: float


class EchoStore:
    def __init__(self, db: aiosqlite.Connection, write: asyncio.Lock) -> None:
        self._db = db
        self._write = write

    async def save(
        self,
        *,
        user_id: int,
        guild_id: int | None,
        channel_id: int,
        settings: StoryboardSettings,
        fields: tuple[str, ...],
        stash_id: int | None = None,
    ) -> int:
        now = time.time()
        async with self._write:
            await self._db.execute(
                "DELETE FROM form_echoes WHERE created_at < ?", (now - KEEP_SECONDS,)
            )
            async with self._db.execute(
                "INSERT INTO form_echoes (user_id, guild_id, channel_id, settings, fields,"
                " stash_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    guild_id,
                    channel_id,
                    settings.model_dump_json(),
                    json.dumps(list(fields)),
                    stash_id,
                    now,
                ),
            ) as cur:
                echo_id = cur.lastrowid
            await self._db.commit()
        assert echo_id is not None
        return echo_id

    async def find(self, echo_id: int) -> FormEcho | None:
        """The echo, unless it is gone or older than a day."""
        async with self._db.execute(
            "SELECT * FROM form_echoes WHERE id = ? AND created_at >= ?",
            (echo_id, time.time() - KEEP_SECONDS),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        data = dict(row)
        data["settings"] = StoryboardSettings.model_validate_json(data["settings"])
        data["fields"] = tuple(json.loads(data["fields"]))
        return FormEcho.model_validate(data)
