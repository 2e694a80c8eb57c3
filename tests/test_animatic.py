"""The animatic (`bot.animatic`): what a member would see when the MP4 plays.

Each video is decoded with PyAV and read as pictures: its length and size, a different
picture for each shot from the first frame of the shot to its last, a strip that fills as
it plays, the reference image behind the text (fitted as for the provider), Chinese text
drawn with real glyphs, and a file of a few hundred KB.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageOps

import bot.animatic as animatic
import bot.transcoder as transcoder_module
from bot.animatic import (
    MISSING,
    Animatic,
    AnimaticOptions,
    animatic_key,
    drawable,
    fit_text,
    has_glyph,
    options_for,
    render_animatic,
    shot_picture,
    wrap,
)
from bot.config import parse_config
from bot.errors import StoryboardError
from bot.profiles import Orientation
from bot.storyboard import Shot, StoryboardSettings, ValidStoryboard
from bot.transcoder import Transcoder, TranscoderBusy
from bot.video_fit import Stopped
from tests.photos import colour_name, encoded
from tools.make_cjk_font import hanzi

FPS = animatic.FPS
SIZES: dict[Orientation, str] = {"landscape": "1280x720", "portrait": "720x1280"}
ZH_CN = "镜头慢慢推近：狐狸停下来，竖起耳朵，听见远处传来的钟声。"
ZH_TW = "鏡頭拉遠，整片雪原在晨光中閃閃發亮，狐狸消失在樹林裡。"
ENGLISH = "A red fox trots across a snowy field at dawn, its breath steaming in the cold air."


def board(
    scenes: Sequence[str], durations: Sequence[int], orientation: Orientation = "landscape"
) -> ValidStoryboard:
    return ValidStoryboard(
        shots=tuple(Shot(scene=s, duration=d) for s, d in zip(scenes, durations, strict=True)),
        settings=StoryboardSettings(
            model="sora-2", seconds=sum(durations), orientation=orientation
        ),
        size=SIZES[orientation],
    )


def frames(path: Path, wanted: Sequence[int]) -> dict[int, Image.Image]:
    """The decoded frames at these indices (0 is the first), as RGB pictures."""
    found: dict[int, Image.Image] = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                found[index] = frame.to_image()  # type: ignore[no-untyped-call]
    assert sorted(found) == sorted(set(wanted)), "the video has fewer frames"
    return found


def count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def strip_filled(picture: Image.Image) -> int:
    """How many columns of the progress strip are filled (amber, not the grey track)."""
    row = picture.height - 3
    return sum(1 for x in range(picture.width) if picture.getpixel((x, row))[0] > 160)  # type: ignore[index]


def above_strip(picture: Image.Image) -> Image.Image:
    return picture.crop((0, 0, picture.width, picture.height - 30))


def differ(a: Image.Image, b: Image.Image) -> bool:
    """Whether two decoded pictures show different things (more than coding noise)."""
    diff = ImageChops.difference(a.convert("L"), b.convert("L"))
    return sum(diff.histogram()[49:]) > 200


@pytest.fixture(scope="module")
def three_shots(tmp_path_factory: pytest.TempPathFactory) -> tuple[ValidStoryboard, Path, Animatic]:
    """15 s, shots of 3, 8 and 4 s, landscape, plain background."""
    story = board([ENGLISH, ZH_CN, ZH_TW], [3, 8, 4])
    path = tmp_path_factory.mktemp("animatic") / "three.mp4"
    return story, path, render_animatic(story, path)


def test_the_mp4_is_h264_of_the_storyboards_length_with_no_sound(
    three_shots: tuple[ValidStoryboard, Path, Animatic],
) -> None:
    story, path, result = three_shots
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["video"]
        video = container.streams.video[0].codec_context
        assert (video.name, video.pix_fmt) == ("h264", "yuv420p")
        assert container.duration is not None
        duration = container.duration / av.time_base
    assert abs(duration - 15) <= len(story.shots) / FPS  # ±1 frame per shot
    assert abs(result.duration - 15) <= len(story.shots) / FPS
    assert count_frames(path) == 15 * FPS == result.frames
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: the index first


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_the_picture_has_the_videos_size_and_orientation(
    orientation: Orientation, tmp_path: Path
) -> None:
    story = board([ENGLISH, ZH_CN], [5, 5], orientation)
    result = render_animatic(story, tmp_path / "a.mp4")
    picture = frames(tmp_path / "a.mp4", [0])[0]
    width, height = (int(n) for n in SIZES[orientation].split("x"))
    assert picture.size == (width, height) == (result.width, result.height)
    assert (width > height) == (orientation == "landscape")


def test_each_shot_is_drawn_from_its_first_frame_to_its_last(
    three_shots: tuple[ValidStoryboard, Path, Animatic],
) -> None:
    """Shots of 3, 8 and 4 s at 12 frames a second cut at frames 36 and 132: the picture
    (the strip aside) changes there and nowhere else."""
    _, path, _ = three_shots
    middles = [18, 84, 156]
    cuts = [36, 132]
    got = frames(path, [*middles, *(c - 1 for c in cuts), *cuts, 0, 35, 179])
    pictures = {i: above_strip(p) for i, p in got.items()}
    assert differ(pictures[18], pictures[84])
    assert differ(pictures[84], pictures[156])
    assert differ(pictures[18], pictures[156])
    for cut in cuts:
        assert differ(pictures[cut - 1], pictures[cut]), cut
    assert not differ(pictures[0], pictures[35])  # within shot 1
    assert not differ(pictures[132], pictures[179])  # within shot 3


def test_the_progress_strip_fills_with_the_whole_video(
    three_shots: tuple[ValidStoryboard, Path, Animatic],
) -> None:
    _, path, _ = three_shots
    indices = [0, 10, 35, 36, 90, 150, 179]
    got = frames(path, indices)
    filled = [strip_filled(got[i]) for i in indices]
    for index, columns in zip(indices, filled, strict=True):
        assert abs(columns - 1280 * (index + 1) / 180) <= 4, (index, columns)
    assert filled == sorted(set(filled))  # it moves on every time
    assert filled[-1] >= 1276  # full at the end


def test_the_reference_image_is_behind_the_text(tmp_path: Path) -> None:
    story = board([ENGLISH, ZH_CN], [4, 4])
    green = encoded(Image.new("RGB", (640, 480), (0, 200, 0)), "PNG")
    render_animatic(story, tmp_path / "plain.mp4")
    render_animatic(story, tmp_path / "green.mp4", reference=green)
    spot = (960, 250)  # right of the shot number, above the scene text
    plain = frames(tmp_path / "plain.mp4", [24])[24]
    pictured = frames(tmp_path / "green.mp4", [24])[24]
    assert colour_name(plain.getpixel(spot)) == "black"  # the plain dark background
    assert colour_name(pictured.getpixel(spot)) == "green"


def test_the_reference_image_is_fitted_as_the_guild_says(tmp_path: Path) -> None:
    """A portrait picture in a landscape video: cropped to cover it, or padded (black)
    beside it, as `image_fit` and `image_pad_fill` would send it to the provider."""
    story = board([ENGLISH], [4])
    green = encoded(Image.new("RGB", (480, 640), (0, 200, 0)), "PNG")
    edge, middle = (60, 300), (640, 300)
    render_animatic(story, tmp_path / "crop.mp4", reference=green)
    pad = AnimaticOptions(fit="pad", pad_fill="black")
    render_animatic(story, tmp_path / "pad.mp4", reference=green, options=pad)
    cropped = frames(tmp_path / "crop.mp4", [0])[0]
    padded = frames(tmp_path / "pad.mp4", [0])[0]
    assert colour_name(cropped.getpixel(edge)) == "green"
    assert colour_name(padded.getpixel(edge)) == "black"
    assert colour_name(padded.getpixel(middle)) == "green"


def test_the_options_follow_the_guilds_image_settings(tmp_path: Path) -> None:
    data: dict[str, object] = {
        "provider": {"base_url": "https://relay.example/v1"},
        "images": {"fit": "pad", "pad_fill": "black"},
    }
    settings = parse_config(data, tmp_path / "config.toml", env={}).settings_for(None)
    assert options_for(settings) == AnimaticOptions(fit="pad", pad_fill="black")


def test_a_reference_that_is_not_an_image_is_refused_as_for_the_provider(
    tmp_path: Path,
) -> None:
    with pytest.raises(StoryboardError) as caught:
        render_animatic(board([ENGLISH], [4]), tmp_path / "a.mp4", reference=b"%PDF-1.7")
    assert caught.value.key == "image.not_an_image"


def test_every_character_the_font_promises_has_a_glyph() -> None:
    """The 8,836 hanzi of GB2312 and Big5's first level, and the sample texts: none is
    drawn as the font's empty box (.notdef)."""
    assert len(hanzi()) == 8836
    missing = [c for c in hanzi() + ZH_CN + ZH_TW + ENGLISH + "0123456789·–…" if not has_glyph(c)]
    assert missing == []


def test_two_hanzi_draw_differently() -> None:
    font = animatic._font(40)
    assert bytes(font.getmask("春")) != bytes(font.getmask("冬"))  # type: ignore[call-overload]


def test_chinese_scenes_are_drawn_with_their_own_glyphs(tmp_path: Path) -> None:
    """Two zh-CN scenes, then two zh-TW ones, of the same length: with boxes (or 〓) for
    the characters, each pair would look the same."""
    scenes = ["春天的花开了", "东南西北中发", "鏡頭拉遠樹林", "雪原閃閃發亮"]
    story = board(scenes, [2, 2, 2, 2])
    render_animatic(story, tmp_path / "zh.mp4")
    got = frames(tmp_path / "zh.mp4", [12, 36, 60, 84])
    panel = (32, 300, 1248, 420)  # the scene's panel, centred on the plain background
    texts = [got[i].crop(panel) for i in (12, 36, 60, 84)]
    for text in texts:
        assert sum(text.convert("L").histogram()[201:]) > 500  # white text is there
    assert differ(texts[0], texts[1])
    assert differ(texts[2], texts[3])


def test_characters_the_font_lacks_become_one_geta_mark() -> None:
    """An emoji (with its variation selector) or a rare character outside the subset is
    drawn as 〓, a run of them as one; the text around it is kept."""
    assert not has_glyph("\U00020000")  # 𠀀, CJK Extension B
    assert not has_glyph("🍲")
    assert drawable("火锅🍲\ufe0f🍲好吃") == f"火锅{MISSING}好吃"
    assert drawable("𠀀 fox") == f"{MISSING} fox"
    assert drawable(ZH_TW) == ZH_TW


def test_lines_fit_and_lose_nothing() -> None:
    font = animatic._font(43)
    text = ZH_CN * 3 + " " + ENGLISH + " https://example.com/" + "x" * 120
    lines = wrap(text, font, 600)
    assert len(lines) > 5
    assert all(font.getlength(line) <= 600 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_no_line_starts_with_a_closing_mark_or_ends_with_an_opening_one() -> None:
    """At every width where a line would end just before a ，or 。, or just after a 「
    (lines of five characters or more: a narrower one breaks where it must)."""
    font = animatic._font(43)
    text = "狐狸和他说：「我们走吧。」狐狸点点头，跟着他走进了森林，再也没有回来。"
    ends = [i for i, c in enumerate(text) if c in "，。：」"]
    ends += [i + 1 for i, c in enumerate(text) if c == "「"]
    assert min(ends) >= 5
    for end in ends:
        width = font.getlength(text[:end]) + 1
        lines = wrap(text, font, width)
        assert "".join(lines) == text
        assert [line for line in lines if line[0] in "，。：」"] == [], end
        assert [line for line in lines if line[-1] == "「"] == [], end


def test_a_scene_too_long_for_the_picture_is_cut_with_an_ellipsis() -> None:
    font, lines, step = fit_text(ZH_CN * 60, 720, 1176, 500)
    assert font.size == round(720 * animatic.SCENE_SIZES[-1])
    assert len(lines) * step <= 500
    assert lines[-1].endswith("…")
    assert shot_picture(board([ZH_CN * 60], [4]), 0).size == (1280, 720)


def test_the_file_is_a_few_hundred_kb(tmp_path: Path) -> None:
    """15 s, 3 shots, 720p over a detailed picture (a fractal, the hard case for the
    encoder) stays small; on the plain background smaller still."""
    story = board([ENGLISH, ZH_CN, ZH_TW], [5, 5, 5])
    fractal = Image.effect_mandelbrot((1280, 720), (-2.2, -1.2, 1.0, 1.2), 64)
    picture = ImageOps.colorize(fractal, black="#102040", white="#f0c080", mid="#20a060")
    detailed = render_animatic(
        story, tmp_path / "a.mp4", reference=encoded(picture, "JPEG", quality=90)
    )
    plain = render_animatic(story, tmp_path / "b.mp4")
    assert detailed.size <= 400_000
    assert plain.size <= 150_000
    assert detailed.size == (tmp_path / "a.mp4").stat().st_size


def test_a_stop_ends_a_render_between_frames(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        render_animatic(board([ENGLISH], [4]), tmp_path / "a.mp4", stop=stop)


def test_the_key_changes_with_what_the_animatic_shows() -> None:
    story = board([ENGLISH, ZH_CN], [5, 5])
    key = animatic_key(story, None)
    same = story.model_copy(
        update={"shots": tuple(s.model_copy(update={"author_id": 7}) for s in story.shots)}
    )
    assert animatic_key(same, None) == key  # who wrote a shot is not shown
    assert animatic_key(board([ENGLISH, ZH_CN], [4, 6]), None) != key
    assert animatic_key(board([ENGLISH, ZH_TW], [5, 5]), None) != key
    assert animatic_key(board([ENGLISH, ZH_CN], [5, 5], "portrait"), None) != key
    assert animatic_key(story, b"png") != key
    assert animatic_key(story, b"png") != animatic_key(story, b"jpg")
    assert animatic_key(story, None, AnimaticOptions(fit="pad")) != key


async def test_renders_run_in_a_transcoder_slot_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Preview with the slot taken is told at once (`wait=False`); with it free the
    animatic is rendered in a thread, not on the loop."""
    threads: list[int] = []
    real = transcoder_module.render_animatic

    def recording(*args: object, **kwargs: object) -> Animatic:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transcoder_module, "render_animatic", recording)
    transcoder = Transcoder(slots=1, queue=4)
    story = board([ENGLISH, ZH_CN], [2, 2])
    await transcoder._acquire(transcoder_module.PAID)  # a transcode holds the only slot
    try:
        with pytest.raises(TranscoderBusy):
            await transcoder.animatic(story, tmp_path / "busy.mp4", wait=False)
    finally:
        transcoder._release()
    result = await transcoder.animatic(story, tmp_path / "a.mp4", wait=False)
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()
    assert result.frames == 4 * FPS == count_frames(tmp_path / "a.mp4")
