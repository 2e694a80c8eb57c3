"""Reference images: decoded with Pillow, never trusted by name or MIME type."""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, UnidentifiedImageError

from bot.errors import StoryboardError
from bot.videos_api.models import ReferenceImage

FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
# Far above any camera, far below a decompression bomb's claim.
MAX_PIXELS = 50_000_000


def _safe_stem(filename: str) -> str:
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")
    return stem[:60] or "reference"


def check_image(data: bytes, filename: str, *, max_bytes: int) -> ReferenceImage:
    """A `ReferenceImage` if `data` decodes as PNG, JPEG or WebP within limits.

    CPU-bound: call it through `asyncio.to_thread` from the event loop.
    """
    if len(data) > max_bytes:
        raise StoryboardError(
            "image.too_large",
            size_mb=round(len(data) / 1048576, 1),
            max_mb=round(max_bytes / 1048576, 1),
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                kind = img.format
                width, height = img.size
                if kind not in FORMATS:
                    raise StoryboardError("image.wrong_type", kind=kind or "?")
                if width * height > MAX_PIXELS:
                    raise StoryboardError("image.too_many_pixels", width=width, height=height)
                img.load()  # decodes every pixel: a truncated file fails here
    except StoryboardError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StoryboardError("image.too_many_pixels", width="?", height="?") from None
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError):
        raise StoryboardError("image.not_an_image") from None
    content_type, ext = FORMATS[kind]
    return ReferenceImage(
        filename=f"{_safe_stem(filename)}.{ext}", content_type=content_type, data=data
    )
