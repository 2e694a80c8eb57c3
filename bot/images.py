"""Reference images: decoded once with Pillow, never trusted by name or MIME type.

What reaches a provider is pixels only. A member's phone photo carries its GPS
position, camera and time in EXIF/XMP; all of it is dropped by re-encoding the
pixels (JPEG, or PNG for PNG input and transparency), after applying the EXIF
orientation and converting an embedded colour profile to sRGB. HEIC/HEIF (via
pillow-heif) and AVIF (Pillow's own plugin) come in and leave as JPEG or PNG.

Memory is bounded before any pixel is decoded: the header's size is checked
against the pixel cap, and a JPEG is decoded with Pillow's draft mode (libjpeg
scales by 1/2, 1/4 or 1/8 while decoding) at the smallest scale still at least
as large as the output needs. Everything is resized in the file's own
orientation and only the small result is turned upright.

An OpenAI-style provider refuses a reference image whose size is not the
video's: `Fit` makes it exactly that size (crop: cover, centred; pad: contain,
on a blurred or black fill). Without a fit, the image keeps its shape, at most
`MAX_SIDE` pixels on its long side (the largest video side; more is never used).
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Literal

import pillow_heif
from PIL import (
    ExifTags,
    Image,
    ImageCms,
    ImageFilter,
    UnidentifiedImageError,
    features,
)

from bot.config import GuildSettings
from bot.errors import StoryboardError
from bot.videos_api.models import ReferenceImage

pillow_heif.register_heif_opener()

FitMode = Literal["crop", "pad"]
PadFill = Literal["blur", "black"]

# What is accepted (Pillow's format names). MPO is how Pillow names a phone JPEG
# carrying a second picture (a depth map, a preview): its first frame is the photo.
ACCEPTED = frozenset(
    {"PNG", "JPEG", "MPO", "WEBP", "HEIF"} | ({"AVIF"} if features.check("avif") else set())
)
DEFAULT_MAX_PIXELS = 40_000_000
# The largest side of any video size a provider offers (1792x1024).
MAX_SIDE = 1792
JPEG_QUALITY = 90
# What Pillow itself writes into, and reads back from, the files made here: none of
# it says anything about the member or their camera.
_OWN_INFO = frozenset({"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"})
# PNG chunks that carry metadata (EXIF, text, colour profile, time).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Orientations that swap width and height.
_SWAPS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class Fit:
    """The exact size a provider needs, and how to get there."""

    width: int
    height: int
    mode: FitMode = "crop"
    fill: PadFill = "blur"

    @classmethod
    def of(cls, size: str, mode: FitMode = "crop", fill: PadFill = "blur") -> Fit:
        """`size` as the video API writes it: "1280x720"."""
        width, _, height = size.partition("x")
        return cls(int(width), int(height), mode, fill)


def fit_for(settings: GuildSettings, size: str) -> Fit | None:
    """The fit a video of `size` needs under `settings`; None sends the image's own shape."""
    if not settings.profile.image_exact_size:
        return None
    return Fit.of(size, settings.image_fit, settings.image_pad_fill)


def _safe_stem(filename: str) -> str:
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")
    return stem[:60] or "reference"


def check_image(
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    fit: Fit | None = None,
) -> ReferenceImage:
    """`data` decoded once and made safe to send: upright, fitted, metadata-free.

    Raises `StoryboardError` (`image.*`) for what is not a supported image within
    limits. CPU-bound: call it through `asyncio.to_thread` from the event loop.
    """
    if len(data) > max_bytes:
        raise StoryboardError(
            "image.too_large",
            size_mb=round(len(data) / 1048576, 1),
            max_mb=round(max_bytes / 1048576, 1),
        )
    pixels, alpha, kind = _decode(data, max_pixels, fit)
    as_png = alpha or kind == "PNG"
    out = io.BytesIO()
    # Pixels only. Encoders also read `info` (a JPEG's comment, a PNG's colour
    # profile) and every Pillow operation copies it along: empty it.
    pixels.info = {}
    if as_png:
        pixels.save(out, format="PNG")
    else:
        pixels.save(out, format="JPEG", quality=JPEG_QUALITY)
    ext, content_type = ("png", "image/png") if as_png else ("jpg", "image/jpeg")
    return ReferenceImage(
        filename=f"{_safe_stem(filename)}.{ext}", content_type=content_type, data=out.getvalue()
    )


def fitted_pixels(data: bytes, fit: Fit, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The pixels `check_image` would send for `fit` (upright, sRGB, exactly the fit's
    size), as an RGB or RGBA picture to draw on: what an animatic shows behind its text.
    Raises `StoryboardError` (`image.*`) as `check_image` does."""
    pixels, alpha, _ = _decode(data, max_pixels, fit)
    return pixels.convert("RGBA" if alpha else "RGB")


def _decode(data: bytes, max_pixels: int, fit: Fit | None) -> tuple[Image.Image, bool, str]:
    """`data`'s upright, fitted, sRGB pixels, whether they have transparency, and the
    file's format; `StoryboardError` (`image.*`) for anything else."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                kind = img.format or "?"
                if kind not in ACCEPTED:
                    raise StoryboardError("image.wrong_type", kind=kind)
                width, height = img.size
                if width * height > max_pixels:
                    raise StoryboardError(
                        "image.too_many_pixels",
                        width=width,
                        height=height,
                        max_mp=f"{round(max_pixels / 1e6, 1):g}",
                    )
                pixels, alpha = _prepare(img, fit)
                # Decoded now: the result no longer reads the file once it is closed.
                pixels.load()
                return pixels, alpha, kind
    except StoryboardError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StoryboardError(
            "image.bomb", max_mp=round((Image.MAX_IMAGE_PIXELS or 0) / 1e6)
        ) from None
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, EOFError):
        raise StoryboardError("image.not_an_image") from None


def prepare_for_send(
    image: ReferenceImage, *, max_bytes: int, max_pixels: int, fit: Fit | None
) -> ReferenceImage:
    """`image` as `check_image` would make it for `fit`, decoding only if it is not already.

    An image checked when it was attached (a draft's, a stashed one) is fitted here once
    the video's size is known; one stored by an older version is cleaned here too.
    """
    if _already_prepared(image, fit):
        return image
    return check_image(
        image.data, image.filename, max_bytes=max_bytes, max_pixels=max_pixels, fit=fit
    )


def _already_prepared(image: ReferenceImage, fit: Fit | None) -> bool:
    """True if `image` is one `check_image` made for `fit`: read from the header only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image.data)) as img:
                kind, size, info = img.format, img.size, set(img.info)
                # Every JPEG segment, including those Pillow keeps out of `info`
                # (extended XMP, vendor APPn blocks, comments).
                segments = [marker for marker, _ in getattr(img, "applist", [])]
    except (
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        UnidentifiedImageError,
        EOFError,
    ):
        return False  # `check_image` says why
    if (kind, image.content_type) not in (("JPEG", "image/jpeg"), ("PNG", "image/png")):
        return False
    if info - _OWN_INFO:
        return False  # EXIF, XMP, a colour profile, a comment, transparency by key...
    if kind == "JPEG" and any(marker != "APP0" for marker in segments):
        return False  # ours carry only the JFIF header
    if kind == "PNG" and not _only_pixel_chunks(image.data):
        return False
    if fit is not None:
        return size == (fit.width, fit.height)
    return max(size) <= MAX_SIDE


# The PNG chunks our encoder writes: pixels and how to read them, nothing about anyone.
_PIXEL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"pHYs"})


def _only_pixel_chunks(data: bytes) -> bool:
    """Whether every chunk of a PNG is one of `_PIXEL_CHUNKS` (a list of what is allowed,
    not of what is known to leak: an unknown chunk may carry anything)."""
    at = 8  # past the signature
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        if data[at + 4 : at + 8] not in _PIXEL_CHUNKS:
            return False
        at += 12 + length  # length, type, data, CRC
    return at == len(data)


def _prepare(img: Image.Image, fit: Fit | None) -> tuple[Image.Image, bool]:
    """The upright, fitted, sRGB pixels of `img` (header read, nothing decoded yet), and
    whether they have transparency."""
    orientation = _orientation(img)
    swaps = orientation in _SWAPS
    raw_w, raw_h = img.size
    # Sizes in the upright picture's terms; the work happens in the file's own.
    up_w, up_h = (raw_h, raw_w) if swaps else (raw_w, raw_h)
    (box_w, box_h), (out_w, out_h) = _geometry(up_w, up_h, fit)
    if swaps:
        box_w, box_h, out_w, out_h = box_h, box_w, out_h, out_w
    scale = out_w / box_w
    # Decode no larger than needed: at least the output's scale (a JPEG's DCT scaling).
    img.draft("RGB", (max(1, math.ceil(raw_w * scale)), max(1, math.ceil(raw_h * scale))))
    img.load()
    icc = img.info.get("icc_profile")
    pixels, alpha = _plain_mode(img)
    shrink = pixels.width / raw_w
    left = (raw_w - box_w) / 2 * shrink
    top = (raw_h - box_h) / 2 * shrink
    box = (left, top, left + box_w * shrink, top + box_h * shrink)
    if (out_w, out_h) != pixels.size or box != (0, 0, *pixels.size):
        pixels = pixels.resize((out_w, out_h), Image.Resampling.BICUBIC, box=box, reducing_gap=2.0)
    method = _TRANSPOSE.get(orientation)
    if method is not None:
        pixels = pixels.transpose(method)
    if isinstance(icc, bytes) and icc:
        pixels = _to_srgb(pixels, icc)
    if fit is not None and fit.mode == "pad":
        pixels = _pad(pixels, fit)
    return pixels, alpha


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 when none). pillow-heif applies HEIF's own rotation and
    reports 1; Pillow's AVIF reports the file's rotation here."""
    if img.format == "PNG" and "exif" not in img.info:
        return 1  # a PNG's EXIF may follow its pixels: reading it would decode them
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except (OSError, SyntaxError, ValueError, TypeError):
        return 1  # an unreadable EXIF block is dropped with the rest
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _geometry(
    width: int, height: int, fit: Fit | None
) -> tuple[tuple[float, float], tuple[int, int]]:
    """The centred part of a `width`x`height` picture to use, and the size it becomes."""
    if fit is None:
        scale = min(1.0, MAX_SIDE / max(width, height))
        return (width, height), (max(1, round(width * scale)), max(1, round(height * scale)))
    if fit.mode == "crop":
        scale = max(fit.width / width, fit.height / height)
        return (fit.width / scale, fit.height / scale), (fit.width, fit.height)
    scale = min(fit.width / width, fit.height / height)
    out = (
        min(fit.width, max(1, round(width * scale))),
        min(fit.height, max(1, round(height * scale))),
    )
    return (width, height), out


def _plain_mode(img: Image.Image) -> tuple[Image.Image, bool]:
    """`img` as RGB, L or RGBA (with transparency), the modes resizing and both
    encoders handle; and whether it has transparency."""
    mode = img.mode
    alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if alpha:
        return (img if mode == "RGBA" else img.convert("RGBA")), True
    if mode in ("RGB", "L"):
        return img, False
    if mode.startswith("I") or mode == "F":
        # 16-bit or float greys: Pillow would clip them at 255, not scale them.
        top = 65535 if mode.startswith("I;16") or mode == "I" else 1
        return img.convert("F").point(lambda v: v * (255 / top)).convert("L"), False
    return img.convert("RGB"), False


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(pixels: Image.Image, icc: bytes) -> Image.Image:
    """Pixels in sRGB, so they look the same once the profile is dropped (an iPhone's
    Display P3 would turn dull). A profile that can't be used is ignored."""
    if pixels.mode not in ("RGB", "RGBA"):
        return pixels
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower().replace(" ", ""):
            return pixels
        converted = ImageCms.profileToProfile(pixels, source, _srgb(), outputMode=pixels.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return pixels
    return converted if converted is not None else pixels


def _pad(pixels: Image.Image, fit: Fit) -> Image.Image:
    """`pixels` centred on a `fit`-sized canvas: black, or the picture itself blurred."""
    size = (fit.width, fit.height)
    if fit.fill == "black":
        canvas = Image.new(pixels.mode, size, "black")  # opaque, also beside a cut-out
    else:
        # Blur at 1/16 scale, then stretch: smooth, and cheap at any size.
        small = (max(1, fit.width // 16), max(1, fit.height // 16))
        scale = max(small[0] / pixels.width, small[1] / pixels.height)
        box_w, box_h = small[0] / scale, small[1] / scale
        left, top = (pixels.width - box_w) / 2, (pixels.height - box_h) / 2
        tiny = pixels.resize(
            small, Image.Resampling.BOX, box=(left, top, left + box_w, top + box_h)
        )
        tiny = tiny.filter(ImageFilter.GaussianBlur(2))
        canvas = tiny.resize(size, Image.Resampling.BICUBIC)
    canvas.paste(pixels, ((fit.width - pixels.width) // 2, (fit.height - pixels.height) // 2))
    return canvas
