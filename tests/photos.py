"""Test pictures made on the spot (Pillow, pillow-heif): nothing is downloaded.

A "phone photo" is what a phone camera writes: the sensor's landscape pixels, an EXIF
orientation saying how to turn them upright, and where it was taken (GPS), plus XMP,
a comment and a colour profile. A red square marks the sensor's top-left corner, so a
test can see where that corner ended up.
"""

from __future__ import annotations

import io
from typing import Literal

import pillow_heif
from PIL import ExifTags, Image, ImageCms, ImageDraw

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]

# Somewhere in Paris: what must never reach a provider.
LATITUDE = (48.0, 51.0, 24.12)
LONGITUDE = (2.0, 17.0, 40.2)
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="48,51.402N"/></rdf:RDF></x:xmpmeta>'
)
COMMENT = b"taken at 12 Rue de Rivoli"
MARKER = 40
# Where the sensor's top-left corner is once upright, for each EXIF orientation.
UPRIGHT_CORNER: dict[int, Corner] = {
    1: "top-left",
    2: "top-right",
    3: "bottom-right",
    4: "bottom-left",
    5: "top-left",
    6: "top-right",
    7: "bottom-right",
    8: "bottom-left",
}


def exif_block(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15"
    exif[ExifTags.Base.DateTime] = "2026:11:30 09:41:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = LONGITUDE
    return exif


def sensor_pixels(size: tuple[int, int] = (400, 300), mode: str = "RGB") -> Image.Image:
    """Blue, with a red square in the top-left corner."""
    img = Image.new(mode, size, "blue")
    ImageDraw.Draw(img).rectangle((0, 0, MARKER - 1, MARKER - 1), fill="red")
    return img


def phone_jpeg(size: tuple[int, int] = (400, 300), orientation: int = 6) -> bytes:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    sensor_pixels(size).save(
        out,
        format="JPEG",
        quality=92,
        exif=exif_block(orientation).tobytes(),
        xmp=XMP,
        comment=COMMENT,
        icc_profile=srgb,
    )
    return out.getvalue()


def heic(size: tuple[int, int] = (128, 64), orientation: int = 6) -> bytes:
    out = io.BytesIO()
    pillow_heif.from_pillow(sensor_pixels(size)).save(
        out, format="HEIF", quality=90, exif=exif_block(orientation).tobytes()
    )
    return out.getvalue()


def avif(size: tuple[int, int] = (128, 64), orientation: int = 6) -> bytes:
    out = io.BytesIO()
    sensor_pixels(size).save(out, format="AVIF", quality=90, exif=exif_block(orientation).tobytes())
    return out.getvalue()


def bands(
    size: tuple[int, int], colours: tuple[str, str, str], *, across: bool = False
) -> Image.Image:
    """Three equal bands, top to bottom (or left to right with `across`)."""
    width, height = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for n, colour in enumerate(colours):
        if across:
            draw.rectangle((n * width // 3, 0, (n + 1) * width // 3 - 1, height - 1), fill=colour)
        else:
            draw.rectangle((0, n * height // 3, width - 1, (n + 1) * height // 3 - 1), fill=colour)
    return img


def encoded(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **params)
    return out.getvalue()


def colour_name(pixel: tuple[int, ...] | float | None) -> str:
    """The nearest of a few plain colours (lossy formats shift values a little)."""
    assert isinstance(pixel, tuple), pixel
    r, g, b = pixel[:3]
    names = {
        "red": (255, 0, 0),
        "green": (0, 128, 0),
        "blue": (0, 0, 255),
        "black": (0, 0, 0),
        "white": (255, 255, 255),
    }
    return min(
        names, key=lambda n: sum((a - c) ** 2 for a, c in zip((r, g, b), names[n], strict=True))
    )


def corner(img: Image.Image, which: Corner, inset: int = MARKER // 2) -> str:
    """The colour near a corner of `img`."""
    x = inset if which.endswith("left") else img.width - 1 - inset
    y = inset if which.startswith("top") else img.height - 1 - inset
    return colour_name(img.convert("RGB").getpixel((x, y)))


def marker_corners(img: Image.Image) -> list[Corner]:
    """The corners where the red marker is."""
    every: tuple[Corner, ...] = ("top-left", "top-right", "bottom-left", "bottom-right")
    return [c for c in every if corner(img, c) == "red"]


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def metadata_of(data: bytes) -> dict[str, object]:
    """Every trace of metadata Pillow finds in `data`, by where it found it."""
    img = opened(data)
    found: dict[str, object] = {
        k: v
        for k, v in img.info.items()
        if k not in ("jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi")
    }
    exif = img.getexif()
    if len(exif):
        found["getexif"] = dict(exif)
    return found


def orientation_only(orientation: int) -> bytes:
    """An EXIF block holding only an orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return exif.tobytes()
