"""Which process holds which guilds: Discord's shard map, `(guild_id >> 22) % count`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


def shard_of(guild_id: int | None, count: int) -> int:
    """The shard of a guild; direct messages (no guild) arrive on shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % count


class Shards(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int
    ids: tuple[int, ...]

    def owns(self, guild_id: int | None) -> bool:
        return shard_of(guild_id, self.count) in self.ids
