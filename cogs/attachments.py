"""Reference images from Discord attachments: size first, then download, then decode."""

from __future__ import annotations

import asyncio
import contextlib

import discord

from bot.errors import StoryboardError
from bot.images import check_image
from bot.videos_api import ReferenceImage

DOWNLOAD_TIMEOUT = 30.0
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


def looks_like_image(attachment: discord.Attachment) -> bool:
    """A cheap first look to pick the attachment; the decode decides."""
    kind = (attachment.content_type or "").split(";")[0]
    return kind.startswith("image/") or attachment.filename.lower().endswith(IMAGE_EXTENSIONS)


async def fetch_reference_image(
    attachment: discord.Attachment, max_bytes: int, slots: asyncio.Semaphore | None = None
) -> ReferenceImage:
    """The attachment as a checked image. Signed CDN links expire, so this runs at once.

    `slots` bounds how many images are downloaded and decoded at once (memory)."""
    async with slots or contextlib.nullcontext():
        return await _fetch(attachment, max_bytes)


async def _fetch(attachment: discord.Attachment, max_bytes: int) -> ReferenceImage:
    if attachment.size > max_bytes:
        raise StoryboardError(
            "image.too_large",
            size_mb=round(attachment.size / 1048576, 1),
            max_mb=round(max_bytes / 1048576, 1),
        )
    try:
        data = await asyncio.wait_for(attachment.read(), DOWNLOAD_TIMEOUT)
    except (discord.HTTPException, TimeoutError):
        raise StoryboardError("submit.image_download_failed") from None
    return await asyncio.to_thread(check_image, data, attachment.filename, max_bytes=max_bytes)
