"""Characters: made from a video URL and a 1-3 s range, or from a finished task.

The provider builds a character from footage that must show no real person;
the time range is checked here before anything is sent.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from bot.errors import StoryboardError

MIN_SPAN, MAX_SPAN = 1.0, 3.0
# Discord's attachment links are signed and expire: the provider would fetch a dead link later.
DISCORD_CDN = re.compile(r"^https://(cdn|media)\.discordapp\.(com|net)/", re.IGNORECASE)


def parse_range(raw: str) -> str:
    """`start,end` in seconds, 1 to 3 s apart, as the provider wants it."""
    parts = [p.strip() for p in raw.replace("，", ",").replace("-", ",").split(",")]
    try:
        start, end = (float(p) for p in parts)
    except ValueError:
        raise StoryboardError("character.bad_range", value=raw[:40]) from None
    if start < 0 or not MIN_SPAN <= end - start <= MAX_SPAN:
        raise StoryboardError("character.bad_span", value=raw[:40], span=f"{end - start:g}")
    return f"{start:g},{end:g}"


def check_url(url: str) -> str:
    url = url.strip()
    if not re.match(r"^https://[^\s/]+\.[^\s/]+/\S*$", url):
        raise StoryboardError("character.bad_url")
    if DISCORD_CDN.match(url):
        raise StoryboardError("character.discord_url")
    return url


class CharacterSource(BaseModel):
    """Where a character comes from: a URL and range, or a finished task."""

    model_config = ConfigDict(frozen=True)

    url: str | None = None
    timestamps: str | None = None
    from_task: str | None = None
    # The job whose task this is, for the card.
    from_job: int | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        by_url = self.url is not None and self.timestamps is not None
        if by_url == (self.from_task is not None):
            raise ValueError("give url and timestamps, or from_task")
        return self

    def description(self) -> tuple[str, dict[str, object]]:
        """Where the character comes from, as a catalogue key and its fields."""
        if self.from_job is not None:
            return "character.from_video", {"job": self.from_job}
        if self.from_task is not None:
            return "character.from_task", {"task_id": self.from_task.replace("`", "")}
        start, _, end = (self.timestamps or "").partition(",")
        return "character.from_url", {"url": self.url, "start": start, "end": end}
