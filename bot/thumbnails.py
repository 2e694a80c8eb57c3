"""The still of a finished video, for its card, where the provider offers one.

Decoration only: every failure (the provider has none, is down, slow, or sends something
that is not an image) is logged and gives None, never an error, so the card's last
edit and the video's delivery never wait long on it or fail because of it.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bot.videos_api import VideoApiError, VideoClient

log = logging.getLogger(__name__)

# A still is tens of kilobytes; more than this is not one.
MAX_BYTES = 2 * 1024 * 1024
# The longest the card's last edit waits for it, retries included.
WAIT_SECONDS = 10.0
# Leading bytes of the formats Discord shows in an embed, and the filename to give each.
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "thumbnail.png"),
    (b"\xff\xd8\xff", 0, "thumbnail.jpg"),
    (b"WEBP", 8, "thumbnail.webp"),  # after "RIFF" and the size
)


class Thumbnail(BaseModel):
    model_config = ConfigDict(frozen=True)

    filename: str
    data: bytes


def name_for(data: bytes) -> str | None:
    """The attachment's filename for an image in a format we know, else None."""
    for magic, at, filename in SIGNATURES:
        if data[at : at + len(magic)] == magic and (at == 0 or data.startswith(b"RIFF")):
            return filename
    return None


async def fetch_thumbnail(client: VideoClient, task_id: str) -> Thumbnail | None:
    """The provider's still of `task_id` (`content?variant=thumbnail`), or None."""
    if not client.profile.allows("thumbnail"):
        return None
    with tempfile.TemporaryDirectory(prefix="storyboard-thumb-") as tmp:
        path = Path(tmp) / "thumbnail"
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                await client.download_content(
                    task_id, path, max_bytes=MAX_BYTES, variant="thumbnail"
                )
            data = await asyncio.to_thread(path.read_bytes)
        except VideoApiError as exc:
            log.info("task_id=%s: no thumbnail (%s)", task_id, exc.key)
            return None
        except (TimeoutError, OSError) as exc:
            log.info("task_id=%s: no thumbnail (%r)", task_id, exc)
            return None
    filename = name_for(data)
    if filename is None:
        log.info("task_id=%s: the thumbnail is not a PNG, JPEG or WebP image", task_id)
        return None
    return Thumbnail(filename=filename, data=data)
