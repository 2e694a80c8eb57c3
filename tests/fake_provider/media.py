"""Deterministic fake media for the content route."""

from __future__ import annotations

import random
import struct
from typing import Literal

Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANT_CONTENT_TYPES: dict[str, str] = {
    "video": "video/mp4",
    "thumbnail": "image/webp",
    "spritesheet": "image/jpeg",
}
_FTYP = struct.pack(">I4s4sI", 32, b"ftyp", b"isom", 0x200) + b"isomiso2avc1mp41"
_IMAGE_SIZE = 2048


def _noise(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def fake_mp4(size: int, seed: str) -> bytes:
    """`size` bytes that start like an MP4: an `ftyp` box, then one `mdat` box of noise."""
    header = len(_FTYP) + 8
    if size < header:
        raise ValueError(f"an MP4 needs at least {header} bytes")
    mdat = struct.pack(">I4s", size - len(_FTYP), b"mdat")
    return _FTYP + mdat + _noise(seed, size - header)


def fake_webp(seed: str, size: int = _IMAGE_SIZE) -> bytes:
    """A RIFF/WEBP-shaped blob (not decodable)."""
    payload = _noise(seed, size - 20)
    return (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WEBPVP8 "
        + struct.pack("<I", len(payload))
        + payload
    )


def fake_jpeg(seed: str, size: int = _IMAGE_SIZE) -> bytes:
    """A JPEG-shaped blob: SOI, JFIF APP0, noise, EOI (not decodable)."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + _noise(seed, size - len(app0) - 4) + b"\xff\xd9"


def fake_content(job_id: str, variant: Variant, video_size: int) -> bytes:
    """The bytes served for one job and variant; the same every time."""
    seed = f"{job_id}/{variant}"
    if variant == "video":
        return fake_mp4(video_size, seed)
    if variant == "thumbnail":
        return fake_webp(seed)
    return fake_jpeg(seed)
