"""Reference images are judged by decoding them, never by name or MIME type, and leave as
pixels only: upright, fitted where the provider needs it, with no metadata."""

from __future__ import annotations

import io
import struct
import tomllib
import zlib
from pathlib import Path

import pytest
from PIL import Image, JpegImagePlugin, features

from bot.config import ConfigError, GuildSettings, parse_config
from bot.errors import StoryboardError
from bot.i18n import t
from bot.images import MAX_SIDE, Fit, check_image, fit_for, prepare_for_send
from tests.photos import (
    COMMENT,
    UPRIGHT_CORNER,
    avif,
    bands,
    corner,
    encoded,
    heic,
    marker_corners,
    metadata_of,
    opened,
    orientation_only,
    phone_jpeg,
    sensor_pixels,
)

MB = 1024 * 1024
LANDSCAPE = Fit(1280, 720)


def encode(fmt: str, size: tuple[int, int] = (32, 16), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "blue").save(out, format=fmt)
    return out.getvalue()


def message(error: StoryboardError) -> str:
    return t(error.key, "en-US", **error.fields)


# -- what comes in, what goes out -------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type", "name"),
    [
        ("PNG", "image/png", "cat.png"),
        ("JPEG", "image/jpeg", "cat.jpg"),
        # A WebP without transparency is a photo: it leaves as a JPEG.
        ("WEBP", "image/webp", "cat.jpg"),
    ],
)
def test_accepted_formats_get_their_real_type_and_extension(
    fmt: str, content_type: str, name: str
) -> None:
    image = check_image(encode(fmt), "cat.jpeg.txt", max_bytes=MB)
    out_type = "image/png" if name.endswith(".png") else "image/jpeg"
    assert (image.content_type, image.filename) == (out_type, name)
    assert opened(image.data).format == ("PNG" if out_type == "image/png" else "JPEG")


def test_a_pdf_renamed_png_is_refused() -> None:
    with pytest.raises(StoryboardError) as exc:
        check_image(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj", "scan.png", max_bytes=MB)
    assert exc.value.key == "image.not_an_image"


def test_a_gif_is_refused_by_kind() -> None:
    with pytest.raises(StoryboardError) as exc:
        check_image(encode("GIF", mode="P"), "anim.png", max_bytes=MB)
    assert exc.value.key == "image.wrong_type"
    assert exc.value.fields == {"kind": "GIF"}
    assert "HEIC or AVIF" in message(exc.value)


def test_a_truncated_image_is_refused() -> None:
    noisy = Image.effect_noise((256, 256), 64).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    data = out.getvalue()
    with pytest.raises(StoryboardError) as exc:
        check_image(data[: len(data) // 2], "half.png", max_bytes=MB)
    assert exc.value.key == "image.not_an_image"


def test_too_large_is_refused_with_both_sizes() -> None:
    with pytest.raises(StoryboardError) as exc:
        check_image(b"\0" * (3 * MB), "big.png", max_bytes=2 * MB)
    assert exc.value.fields == {"size_mb": 3.0, "max_mb": 2.0}


def test_unsafe_filenames_are_cleaned() -> None:
    image = check_image(encode("PNG"), "../../etc/@everyone <x>.png", max_bytes=MB)
    assert image.filename == "everyone_x.png"


# -- a phone photo: upright, and nothing but pixels ------------------------------------


def test_a_rotated_phone_photo_leaves_upright_with_no_metadata_at_all() -> None:
    data = phone_jpeg((400, 300), orientation=6)
    assert {"exif", "xmp", "comment", "icc_profile"} <= set(metadata_of(data))  # the input has it
    image = check_image(data, "IMG_1234.JPG", max_bytes=MB)
    assert (image.filename, image.content_type) == ("IMG_1234.jpg", "image/jpeg")
    assert metadata_of(image.data) == {}
    # Not hidden anywhere in the file either (an APP1 block, an XMP packet, a comment).
    for trace in (b"Exif", b"GPS", b"xmpmeta", COMMENT, b"PhoneMaker"):
        assert trace not in image.data
    out = opened(image.data)
    # Orientation 6: the sensor's 400x300 turned a quarter clockwise.
    assert out.size == (300, 400)
    assert marker_corners(out) == ["top-right"]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied(orientation: int) -> None:
    image = check_image(phone_jpeg((400, 300), orientation), "p.jpg", max_bytes=MB)
    out = opened(image.data)
    assert out.size == ((300, 400) if orientation >= 5 else (400, 300))
    assert marker_corners(out) == [UPRIGHT_CORNER[orientation]]


def test_a_heic_photo_is_accepted_upright_and_sent_as_jpeg() -> None:
    data = heic((128, 64), orientation=6)
    assert opened(data).format == "HEIF"
    image = check_image(data, "IMG_0001.HEIC", max_bytes=MB)
    assert (image.filename, image.content_type) == ("IMG_0001.jpg", "image/jpeg")
    out = opened(image.data)
    assert (out.format, out.size) == ("JPEG", (64, 128))
    assert marker_corners(out) == ["top-right"]
    assert metadata_of(image.data) == {}
    assert b"GPS" not in image.data


def test_an_avif_photo_is_accepted_upright_and_sent_as_jpeg() -> None:
    # The README promises AVIF: a Pillow without it (a source build missing libavif) must
    # fail here, not skip. Pillow >= 11.3's wheels carry it.
    assert features.check("avif"), "this Pillow cannot read AVIF, which the README promises"
    data = avif((128, 64), orientation=6)
    assert opened(data).format == "AVIF"
    image = check_image(data, "photo.avif", max_bytes=MB)
    assert (image.filename, image.content_type) == ("photo.jpg", "image/jpeg")
    out = opened(image.data)
    assert out.size == (64, 128)
    assert marker_corners(out) == ["top-right"]
    assert metadata_of(image.data) == {}


def test_a_phone_jpeg_carrying_a_second_picture_is_a_jpeg() -> None:
    """Phones append a depth map or preview (MPO, as Pillow names it): the photo is the first."""
    first, second = sensor_pixels((200, 150)), Image.new("RGB", (40, 30), "white")
    data = encoded(first, "MPO", save_all=True, append_images=[second], exif=orientation_only(6))
    assert opened(data).format == "MPO"
    image = check_image(data, "IMG_7.JPG", max_bytes=MB)
    out = opened(image.data)
    assert (image.content_type, out.format, out.size) == ("image/jpeg", "JPEG", (150, 200))
    assert marker_corners(out) == ["top-right"]


def test_an_unusable_colour_profile_is_dropped_not_fatal() -> None:
    data = encoded(sensor_pixels((200, 150)), "JPEG", icc_profile=b"not a profile at all")
    image = check_image(data, "odd.jpg", max_bytes=MB)
    assert metadata_of(image.data) == {}
    assert marker_corners(opened(image.data)) == ["top-left"]


def test_pad_beside_a_transparent_image_is_opaque_black() -> None:
    img = Image.new("RGBA", (90, 90), (0, 0, 0, 0))
    image = check_image(
        encoded(img, "PNG"), "cut.png", max_bytes=MB, fit=Fit(160, 90, "pad", "black")
    )
    out = opened(image.data)
    assert out.getpixel((5, 45)) == (0, 0, 0, 255)
    assert out.getpixel((80, 45)) == (0, 0, 0, 0)


def test_png_text_and_exif_chunks_are_dropped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "48.8567 N, 2.2945 E")
    info.add_itxt("Author", "Alice Example")
    data = encoded(sensor_pixels((80, 60)), "PNG", pnginfo=info, exif=b"Exif\0\0" + b"MM")
    image = check_image(data, "shot.png", max_bytes=MB)
    assert image.content_type == "image/png"
    assert metadata_of(image.data) == {}
    for trace in (b"tEXt", b"iTXt", b"eXIf", b"Alice", b"48.8567"):
        assert trace not in image.data


def test_a_png_with_transparency_stays_a_png_with_it() -> None:
    img = sensor_pixels((80, 60), mode="RGBA")
    img.putpixel((79, 59), (0, 0, 0, 0))
    image = check_image(encoded(img, "PNG"), "cut-out.png", max_bytes=MB)
    out = opened(image.data)
    assert (image.content_type, out.mode) == ("image/png", "RGBA")
    assert out.getpixel((79, 59)) == (0, 0, 0, 0)
    assert out.getpixel((10, 10)) == (255, 0, 0, 255)


def test_a_webp_with_transparency_becomes_a_png() -> None:
    img = sensor_pixels((80, 60), mode="RGBA")
    img.putpixel((79, 59), (0, 0, 0, 0))
    image = check_image(encoded(img, "WEBP", lossless=True), "sticker.webp", max_bytes=MB)
    assert (image.filename, image.content_type) == ("sticker.png", "image/png")
    assert opened(image.data).getpixel((79, 59))[3] == 0  # type: ignore[index]


def test_a_16_bit_png_keeps_its_brightness() -> None:
    img = Image.new("I;16", (8, 8), 65535)
    img.putpixel((0, 0), 32896)  # half way
    out = opened(check_image(encoded(img, "PNG"), "scan.png", max_bytes=MB).data)
    assert out.getpixel((4, 4)) == 255
    assert out.getpixel((0, 0)) == 128


# -- fitting to the video's size --------------------------------------------------------


def test_crop_fills_the_frame_exactly_centred() -> None:
    square = encoded(bands((900, 900), ("red", "green", "blue")), "PNG")
    out = opened(check_image(square, "sq.png", max_bytes=MB, fit=LANDSCAPE).data)
    assert out.size == (1280, 720)
    # Scaled to 1280 wide, the middle 720 rows kept: the top and bottom bands are cut
    # but still there at the edges, and nothing is padded.
    assert [corner(out, "top-left"), corner(out, "bottom-right")] == ["red", "blue"]
    assert out.getpixel((640, 360))[:3] == (0, 128, 0)  # type: ignore[index]
    assert corner(out, "top-left", inset=2) != "black"


def test_crop_of_a_portrait_phone_photo_keeps_its_middle() -> None:
    """The sensor's 800x600 stands upright as 600x800; a landscape crop of that takes
    the middle band, not the sensor's (which would show the marker's stripe)."""
    sensor = bands((800, 600), ("red", "green", "blue"), across=True)
    data = encoded(sensor, "JPEG", quality=95, exif=orientation_only(6))
    out = opened(check_image(data, "p.jpg", max_bytes=MB, fit=LANDSCAPE).data)
    assert out.size == (1280, 720)
    # Upright, the sensor's left band is on top: a centred 16:9 crop shows only green
    # in the middle, with red above and blue below cut to thin edges.
    assert corner(out, "top-left", inset=4) == "red"
    assert corner(out, "bottom-left", inset=4) == "blue"
    assert corner(out, "top-left", inset=300) == "green"


def test_pad_shows_the_whole_picture_on_black() -> None:
    square = encoded(bands((900, 900), ("red", "green", "blue")), "PNG")
    fit = Fit(1280, 720, "pad", "black")
    out = opened(check_image(square, "sq.png", max_bytes=MB, fit=fit).data)
    assert out.size == (1280, 720)
    # 720x720 in the middle: all three bands whole, black beside them.
    assert [out.getpixel((640, y))[:3] for y in (5, 360, 714)] == [  # type: ignore[index]
        (255, 0, 0),
        (0, 128, 0),
        (0, 0, 255),
    ]
    assert out.getpixel((100, 360)) == (0, 0, 0)
    assert out.getpixel((1180, 360)) == (0, 0, 0)


def test_pad_with_blur_fills_the_sides_from_the_picture() -> None:
    square = encoded(bands((900, 900), ("red", "green", "blue")), "PNG")
    fit = Fit(1280, 720, "pad", "blur")
    out = opened(check_image(square, "sq.png", max_bytes=MB, fit=fit).data)
    assert out.size == (1280, 720)
    assert out.getpixel((640, 360))[:3] == (0, 128, 0)  # type: ignore[index]
    # Beside the picture: its own colours, blurred, not black.
    left = out.getpixel((100, 360))
    assert isinstance(left, tuple)
    assert left[1] > 60 and left[0] < 60 and left[2] < 60, left


def test_portrait_fit_gives_portrait_size() -> None:
    image = check_image(phone_jpeg((400, 300), 6), "p.jpg", max_bytes=MB, fit=Fit(720, 1280))
    out = opened(image.data)
    assert out.size == (720, 1280)
    assert metadata_of(image.data) == {}


def test_without_a_fit_a_big_photo_keeps_its_shape_at_most_the_largest_video_side() -> None:
    data = encoded(sensor_pixels((4000, 3000)), "JPEG", quality=85)
    out = opened(check_image(data, "big.jpg", max_bytes=10 * MB).data)
    assert out.size == (MAX_SIDE, MAX_SIDE * 3 // 4)
    small = opened(
        check_image(encoded(sensor_pixels((300, 200)), "PNG"), "s.png", max_bytes=MB).data
    )
    assert small.size == (300, 200)  # never enlarged


def test_a_12_mp_jpeg_is_decoded_at_half_size_for_a_720p_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Draft mode: libjpeg scales while decoding, so a phone photo's full 12 MP (48 MB of
    pixels) never exist in memory; half size is the smallest still above 1280x720."""
    decoded: list[tuple[int, int]] = []
    load = JpegImagePlugin.JpegImageFile.load

    def spy(self: JpegImagePlugin.JpegImageFile) -> object:
        result = load(self)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    data = encoded(sensor_pixels((4032, 3024)), "JPEG", quality=80)
    out = opened(check_image(data, "p.jpg", max_bytes=10 * MB, fit=LANDSCAPE).data)
    assert out.size == (1280, 720)
    assert decoded[0] == (2016, 1512)


# -- limits -----------------------------------------------------------------------------


def test_over_the_pixel_cap_is_refused_with_its_size() -> None:
    big = encode("PNG", size=(8000, 6000), mode="1")  # 48 MP, a few KB
    assert len(big) < MB
    with pytest.raises(StoryboardError) as exc:
        check_image(big, "huge.png", max_bytes=MB)
    assert exc.value.key == "image.too_many_pixels"
    assert message(exc.value) == (
        "The image is too big (8000×6000 pixels, the most is 40 million). Use a smaller one."
    )


def test_the_pixel_cap_is_the_configured_one() -> None:
    with pytest.raises(StoryboardError) as exc:
        check_image(encode("PNG", (1001, 1000)), "a.png", max_bytes=MB, max_pixels=1_000_000)
    assert "1001×1000 pixels, the most is 1 million" in message(exc.value)
    assert check_image(encode("PNG", (1000, 1000)), "a.png", max_bytes=MB, max_pixels=1_000_000)


def test_a_decompression_bomb_is_refused() -> None:
    bomb = encode("PNG", size=(10_000, 10_000), mode="1")
    assert len(bomb) < MB
    with pytest.raises(StoryboardError) as exc:
        check_image(bomb, "bomb.png", max_bytes=MB)
    assert exc.value.key == "image.bomb"
    assert "more than 89 million pixels" in message(exc.value)


# -- an image checked earlier, fitted once the video's size is known --------------------


def test_an_image_already_made_for_the_fit_is_not_decoded_again() -> None:
    made = check_image(phone_jpeg(), "p.jpg", max_bytes=MB, fit=LANDSCAPE)
    assert prepare_for_send(made, max_bytes=MB, max_pixels=40_000_000, fit=LANDSCAPE) is made


def test_a_draft_image_is_fitted_when_submitted() -> None:
    attached = check_image(phone_jpeg(), "p.jpg", max_bytes=MB)
    assert opened(attached.data).size == (300, 400)
    assert prepare_for_send(attached, max_bytes=MB, max_pixels=40_000_000, fit=None) is attached
    sent = prepare_for_send(attached, max_bytes=MB, max_pixels=40_000_000, fit=LANDSCAPE)
    assert opened(sent.data).size == (1280, 720)


def with_late_text(png: bytes, text: bytes) -> bytes:
    """`png` with a tEXt chunk after its pixels (Pillow reads those only on decoding)."""
    body = b"Comment\0" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return png[:-12] + chunk + png[-12:]


def test_a_png_with_text_after_its_pixels_is_cleaned_before_it_is_sent() -> None:
    from bot.videos_api import ReferenceImage

    raw = with_late_text(encoded(sensor_pixels((1280, 720)), "PNG"), b"48.8567 N, 2.2945 E")
    assert opened(raw).info["Comment"] == "48.8567 N, 2.2945 E"
    old = ReferenceImage(filename="old.png", content_type="image/png", data=raw)
    sent = prepare_for_send(old, max_bytes=MB, max_pixels=40_000_000, fit=LANDSCAPE)
    assert b"48.8567" not in sent.data
    assert metadata_of(sent.data) == {}


def test_an_image_stored_before_cleaning_is_cleaned_before_it_is_sent() -> None:
    """A draft or job image stored by an older version still has its EXIF: even at the
    right size it is re-encoded, not sent as it is."""
    from bot.videos_api import ReferenceImage

    raw = encoded(sensor_pixels((1280, 720)), "JPEG", exif=orientation_only(1))
    old = ReferenceImage(filename="old.jpg", content_type="image/jpeg", data=raw)
    assert "exif" in metadata_of(raw)
    sent = prepare_for_send(old, max_bytes=MB, max_pixels=40_000_000, fit=LANDSCAPE)
    assert sent is not old
    assert metadata_of(sent.data) == {}
    assert opened(sent.data).size == (1280, 720)


def with_segment(jpeg: bytes, marker: bytes, payload: bytes) -> bytes:
    """`jpeg` with one more segment right after its start (SOI)."""
    segment = marker + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


@pytest.mark.parametrize(
    ("marker", "payload"),
    [
        # Extended XMP and a vendor block: Pillow keeps both out of `info`.
        (b"\xff\xe1", b"http://ns.adobe.com/xmp/extension/\x00GPS 48.8567 N, 2.2945 E"),
        (b"\xff\xec", b"Ducky\x00GPS 48.8567 N, 2.2945 E"),
        (b"\xff\xfe", b"GPS 48.8567 N, 2.2945 E"),  # a comment
    ],
)
def test_a_jpeg_of_the_right_size_with_any_other_segment_is_cleaned(
    marker: bytes, payload: bytes
) -> None:
    from bot.videos_api import ReferenceImage

    made = check_image(phone_jpeg(), "p.jpg", max_bytes=MB, fit=LANDSCAPE)
    old = ReferenceImage(
        filename="old.jpg", content_type="image/jpeg", data=with_segment(made.data, marker, payload)
    )
    sent = prepare_for_send(old, max_bytes=MB, max_pixels=40_000_000, fit=LANDSCAPE)
    assert b"48.8567" not in sent.data
    assert opened(sent.data).size == (1280, 720)


def test_a_png_with_a_chunk_we_do_not_write_is_cleaned() -> None:
    from bot.videos_api import ReferenceImage

    png = encoded(sensor_pixels((1280, 720)), "PNG")
    body = b"GPS 48.8567 N, 2.2945 E"
    chunk = struct.pack(">I", len(body)) + b"vpAg" + body
    chunk += struct.pack(">I", zlib.crc32(b"vpAg" + body))
    old = ReferenceImage(
        filename="old.png", content_type="image/png", data=png[:-12] + chunk + png[-12:]
    )
    sent = prepare_for_send(old, max_bytes=MB, max_pixels=40_000_000, fit=LANDSCAPE)
    assert b"48.8567" not in sent.data


# -- what the config says ---------------------------------------------------------------


def settings_for(text: str, guild: int = 111) -> GuildSettings:
    base = '[provider]\nbase_url = "https://relay.example/v1"\n'
    data = tomllib.loads(base + text)
    return parse_config(data, Path("config.toml"), env={}).guild(guild)


def test_the_openai_profile_fits_and_the_relay_sends_the_image_as_it_is() -> None:
    relay = settings_for('[guilds."111"]\napi_key = "sk-aaaaaaaaaaaa"\n')
    openai = settings_for(
        '[guilds."111"]\napi_key = "sk-aaaaaaaaaaaa"\nprofile = "openai"\nseconds = 8\n'
    )
    assert fit_for(relay, "1280x720") is None
    assert fit_for(openai, "720x1280") == Fit(720, 1280, "crop", "blur")


def test_a_relay_can_be_said_to_need_the_exact_size_and_a_guild_can_say_otherwise() -> None:
    text = (
        "[provider]\nimage_exact_size = true\n"
        '[images]\nfit = "pad"\npad_fill = "black"\nmax_pixels = 20000000\n'
        '[guilds."111"]\napi_key = "sk-aaaaaaaaaaaa"\n'
        '[guilds."222"]\napi_key = "sk-bbbbbbbbbbbb"\nimage_exact_size = false\n'
    )
    data = tomllib.loads(
        text.replace("[provider]\n", '[provider]\nbase_url = "https://r.example/v1"\n')
    )
    config = parse_config(data, Path("config.toml"), env={})
    one, two = config.guild(111), config.guild(222)
    assert fit_for(one, "1280x720") == Fit(1280, 720, "pad", "black")
    assert one.image_max_pixels == 20_000_000
    assert fit_for(two, "1280x720") is None
    assert one.profile.name == two.profile.name == "relay"


def test_a_pixel_cap_above_pillows_bomb_limit_is_refused_by_name() -> None:
    data = tomllib.loads(
        '[provider]\nbase_url = "https://r.example/v1"\n[images]\nmax_pixels = 100000000\n'
    )
    with pytest.raises(ConfigError) as exc:
        parse_config(data, Path("config.toml"), env={})
    assert "images.max_pixels" in exc.value.describe()
