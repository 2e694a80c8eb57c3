"""Reference images are judged by decoding them, never by name or MIME type."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.errors import StoryboardError
from bot.images import check_image

MB = 1024 * 1024


def encode(fmt: str, size: tuple[int, int] = (32, 16), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "blue").save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "content_type", "name"),
    [
        ("PNG", "image/png", "cat.png"),
        ("JPEG", "image/jpeg", "cat.jpg"),
        ("WEBP", "image/webp", "cat.webp"),
    ],
)
def test_accepted_formats_get_their_real_type_and_extension(
    fmt: str, content_type: str, name: str
) -> None:
    image = check_image(encode(fmt), "cat.jpeg.txt", max_bytes=MB)
    assert (image.content_type, image.filename) == (content_type, name)


def test_a_pdf_renamed_png_is_refused() -> None:
    with pytest.raises(StoryboardError) as exc:
        check_image(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj", "scan.png", max_bytes=MB)
    assert exc.value.key == "image.not_an_image"


def test_a_gif_is_refused_by_kind() -> None:
    with pytest.raises(StoryboardError) as exc:
        check_image(encode("GIF", mode="P"), "anim.png", max_bytes=MB)
    assert exc.value.key == "image.wrong_type"
    assert exc.value.fields == {"kind": "GIF"}


def test_a_truncated_image_is_refused() -> None:
    data = encode("PNG", size=(256, 256))
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


def test_a_decompression_bomb_is_refused() -> None:
    bomb = encode("PNG", size=(10_000, 10_000), mode="1")
    assert len(bomb) < MB
    with pytest.raises(StoryboardError) as exc:
        check_image(bomb, "bomb.png", max_bytes=MB)
    assert exc.value.key == "image.too_many_pixels"


def test_unsafe_filenames_are_cleaned() -> None:
    image = check_image(encode("PNG"), "../../etc/@everyone <x>.png", max_bytes=MB)
    assert image.filename == "everyone_x.png"
