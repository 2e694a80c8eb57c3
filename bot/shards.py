"""Which guilds this process answers for: Discord's shard map.

Discord splits guilds over shards by `(guild_id >> 22) % shard_count`, and direct
messages arrive on shard 0. Every event of a guild, interactions included, reaches only
the process holding its shard, so that process owns the guild's jobs: the map decides
it, no lock does (docs/scaling.md, "Step 1").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


def shard_of(guild_id: int | None, count: int) -> int:
    """The shard Discord sends `guild_id`'s events on; a direct message (None) is shard 0."""
    if guild_id is None:
        return 0
    return (guild_id >> 22) % count


class Shards(BaseModel):
    """The shards one process runs, `ids`, out of the `count` the whole bot runs."""

    model_config = ConfigDict(frozen=True, strict=True)

    count: int = Field(ge=1)
    ids: tuple[int, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_within_count(self) -> Shards:
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("shard ids must not repeat")
        if any(not 0 <= i < self.count for i in self.ids):
            raise ValueError(f"shard ids run from 0 to {self.count - 1}")
        return self

    @classmethod
    def all_of(cls, count: int) -> Shards:
        """Every shard of `count` in one process."""
        return cls(count=count, ids=tuple(range(count)))

    def owns(self, guild_id: int | None) -> bool:
        """True when `guild_id`'s events (a DM's, for None) come to this process."""
        return shard_of(guild_id, self.count) in self.ids

    @property
    def has_first(self) -> bool:
        """This process holds shard 0: direct messages, and the fleet's one-off duties
        (command sync, the drafts' archiver)."""
        return 0 in self.ids

    def describe(self) -> str:
        """For logs: "shards 0, 1 of 4"."""
        word = "shard" if len(self.ids) == 1 else "shards"
        return f"{word} {', '.join(map(str, self.ids))} of {self.count}"
