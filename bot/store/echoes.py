"""What a member typed into a refused quick form, kept a day for its Fix button.

The only SQL for form echoes, on the store's database.
"""

from __future__ import annotations

import json
import time

from pydantic import BaseModel, ConfigDict

from bot.store.db import Database
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
    def __init__(self, db: Database) -> None:
        self._db = db

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
        await self._db.execute("DELETE FROM form_echoes WHERE created_at < ?", now - KEEP_SECONDS)
        echo_id = await self._db.fetchval(
            "INSERT INTO form_echoes (user_id, guild_id, channel_id, settings, fields,"
            " stash_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            user_id,
            guild_id,
            channel_id,
            settings.model_dump_json(),
            json.dumps(list(fields)),
            stash_id,
            now,
        )
        return int(echo_id)

    async def find(self, echo_id: int) -> FormEcho | None:
        """The echo, unless it is gone or older than a day."""
        row = await self._db.fetchrow(
            "SELECT * FROM form_echoes WHERE id = ? AND created_at >= ?",
            echo_id,
            time.time() - KEEP_SECONDS,
        )
        if row is None:
            return None
        data = dict(row)
        data["settings"] = StoryboardSettings.model_validate_json(data["settings"])
        data["fields"] = tuple(json.loads(data["fields"]))
        return FormEcho.model_validate(data)
