"""Reference images from Discord attachments: size first, then download, then decode."""

from __future__ import annotations

import asyncio
import contextlib

import discord

from bot.config import GuildSettings
from bot.errors import StoryboardError
from bot.images import check_image, fit_for
from bot.videos_api import ReferenceImage

DOWNLOAD_TIMEOUT = 30.0
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".heic", ".heif", ".avif")


def looks_like_image(attachment: discord.Attachment) -> bool:
    """A cheap first look to pick the attachment; the decode decides."""
    kind = (attachment.content_type or "").split(";")[0]
    return kind.startswith("image/") or attachment.filename.lower().endswith(IMAGE_EXTENSIONS)


async def fetch_reference_image(
    attachment: discord.Attachment,
    settings: GuildSettings,
    slots: asyncio.Semaphore | None = None,
    *,
    size: str | None = None,
) -> ReferenceImage:
    """The attachment as a checked image, its metadata gone. Signed CDN links expire, so
    this runs at once. `size` is the video's when already known: the image is fitted to
    it in the same decode where the provider needs that (else at submit).

    `slots` bounds how many images are downloaded and decoded at once (memory)."""
    async with slots or contextlib.nullcontext():
        return await _fetch(attachment, settings, size)


async def _fetch(
    attachment: discord.Attachment, settings: GuildSettings, size: str | None
) -> ReferenceImage:
    max_bytes = settings.image_max_bytes
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
    return await asyncio.to_thread(
        check_image,
        data,
        attachment.filename,
        max_bytes=max_bytes,
        max_pixels=settings.image_max_pixels,
        fit=fit_for(settings, size) if size is not None else None,
    )
