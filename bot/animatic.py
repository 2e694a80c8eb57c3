"""Animatics: a storyboard's frames held for each shot's duration, as a small MP4.

Film makers judge a cut's timing on an animatic before anything is shot; here it costs
nothing and takes well under a second, so a community can watch a draft before paying
for a video. Each shot is one picture: the reference image fitted to the video's size as
a provider gets it (`bot.images`, crop or pad), or a plain background; on it the shot
number ("2/3"), its duration and place in the video, and the scene text wrapped on a
dark panel; along the bottom edge a strip that fills as the video plays, with a notch
at each cut. The MP4 has the real video's size, orientation and length, and no sound:
H.264 (yuv420p, BT.709), `faststart` (the index first, so Discord's player starts at once).

Cheap by construction: each shot is drawn once (Pillow) and converted to YUV once; every
output frame is a copy of those planes with the strip's filled part painted in (a few
rows of bytes), at `FPS` frames a second, enough for the strip to move smoothly; a frame
that differs from the one before only by that strip costs x264 a few bytes. A 15 s,
3-shot, 720p animatic takes about 0.65 s of one core, most of it x264's analysis of
each frame, and 75 KB on the plain background, about 300 KB over a detailed picture
(bench/animatic.py).

The font is a subset of Noto Sans CJK SC (SIL Open Font License 1.1) shipped in
`bot/fonts/` with its licence, so Chinese draws on a machine set up by `pip install`
alone: Debian's `fonts-noto-cjk` is 91 MB, and any system font is one more step for a
self-hoster. It holds the hanzi of GB2312 and of Big5's first level, Latin, kana and
punctuation (`tools/make_cjk_font.py` says which and how it is made, about 4 MB). A
character outside it is drawn as 〓, the typographer's sign for a missing character,
never as an empty box; combining and formatting marks it lacks are left out.

Everything here blocks; callers run it in a thread (`bot.transcoder.Transcoder.animatic`).
"""

from __future__ import annotations

import functools
import hashlib
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import VideoFrame
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field

from bot.config import GuildSettings
from bot.images import DEFAULT_MAX_PIXELS, Fit, FitMode, PadFill, fitted_pixels
from bot.storyboard import ValidStoryboard
from bot.video_fit import Stopped

FONT = Path(__file__).with_name("fonts") / "NotoSansCJKsc-Regular-subset.otf"
# Bumped whenever the picture changes, so that a preview cached by `animatic_key` is
# rendered again.
RENDERER = "1"
# Frames a second: the strip moves a step per frame; more only costs time.
FPS = 12
# x264: a frame that differs from the one before only by the strip is nearly free to
# store, but x264 still analyses every block of it. "superfast" without B-frames or
# lookahead (which a still picture does not need) takes 70 % of "veryfast"'s time for a
# file about 25 % larger ("ultrafast": half the time, twice the size); CRF 23 keeps text
# edges clean on a photo. bench/animatic.py measures it.
PRESET = "superfast"
X264_PARAMS = "bframes=0:rc-lookahead=0:mbtree=0"
CRF = 23
MISSING = "〓"
BACKGROUND = (48, 52, 66)
PANEL = (10, 11, 16, 170)
TEXT = (255, 255, 255)
MUTED = (196, 200, 210)
TRACK = (70, 72, 82)
NOTCH = (230, 232, 238)
FILL = (255, 190, 0)
# Past the real video's end (a storyboard refused for its timing): the strip and the notes.
OVER = (226, 54, 54)
NOTE = (190, 30, 30, 230)
# Scene text sizes tried, largest first, as shares of the picture's short side; a text
# that fits at none is cut at the smallest with an ellipsis.
SCENE_SIZES = (0.06, 0.052, 0.045, 0.038, 0.032)
LINE_SPACING = 1.35
# Never at the start of a line (closing marks) or at its end (opening marks).
_CLOSING = frozenset("，。、；：！？）」』》〉】〕…‥—～·,.!?;:)]}%’”")
_OPENING = frozenset("（「『《〈【〔‘“([{")


class AnimaticOptions(BaseModel):
    """How to render: frame rate, and how the reference image is fitted (the guild's
    `image_fit` and `image_pad_fill`, as for the provider)."""

    model_config = ConfigDict(frozen=True)

    fps: int = Field(default=FPS, ge=1, le=30)
    fit: FitMode = "crop"
    pad_fill: PadFill = "blur"


DEFAULT_OPTIONS = AnimaticOptions()


def options_for(settings: GuildSettings) -> AnimaticOptions:
    """The guild's way of fitting a reference image (`[images] fit`, `pad_fill`): the
    animatic shows the picture as the provider would get it."""
    return AnimaticOptions(fit=settings.image_fit, pad_fill=settings.image_pad_fill)


class Animatic(BaseModel):
    """The rendered file: its size in bytes, length in seconds, picture size and frames."""

    model_config = ConfigDict(frozen=True)

    size: int
    duration: float
    width: int
    height: int
    frames: int


class ReelShot(BaseModel):
    """One picture of an animatic: a scene held for `seconds`. `note` is a warning drawn
    under the header (the timing a refused storyboard got wrong, in the member's words);
    an unnumbered card is a stretch of the video that no shot fills."""

    model_config = ConfigDict(frozen=True)

    scene: str
    seconds: int = Field(ge=1)
    note: str = ""
    numbered: bool = True


class Reel(BaseModel):
    """What an animatic plays: its pictures in order, the picture size ("1280x720"), and
    the real video's length. When the pictures add up to another length (a storyboard
    refused for its timing, shown as written), the strip marks where the video ends and
    turns red past it."""

    model_config = ConfigDict(frozen=True)

    shots: tuple[ReelShot, ...] = Field(min_length=1)
    size: str
    video_seconds: int = Field(ge=1)

    @property
    def seconds(self) -> int:
        """How long it plays."""
        return sum(shot.seconds for shot in self.shots)

    @property
    def shot_seconds(self) -> int:
        """How long its shots play (not the cards for seconds no shot fills)."""
        return sum(shot.seconds for shot in self.shots if shot.numbered)


def reel_of(board: ValidStoryboard | Reel) -> Reel:
    """A valid storyboard's reel: each shot for its duration, the video's whole length."""
    if isinstance(board, Reel):
        return board
    durations = [shot.duration for shot in board.shots]
    if any(d is None or d < 1 for d in durations):
        raise ValueError("every shot needs a duration of at least 1 s")
    shots = tuple(ReelShot(scene=shot.scene, seconds=shot.duration or 1) for shot in board.shots)
    return Reel(shots=shots, size=board.size, video_seconds=sum(s.seconds for s in shots))


def animatic_key(
    board: ValidStoryboard | Reel,
    reference: bytes | None,
    options: AnimaticOptions = DEFAULT_OPTIONS,
) -> str:
    """A digest of everything the animatic shows: equal keys, equal videos (a preview
    is rendered again only when its key changed)."""
    reel = reel_of(board)
    digest = hashlib.sha256(f"animatic {RENDERER}\0{reel.size}\0{reel.video_seconds}\0".encode())
    for shot in reel.shots:
        digest.update(f"{shot.seconds}\0{shot.numbered}\0{shot.scene}\0{shot.note}\0".encode())
    digest.update(options.model_dump_json().encode())
    digest.update(hashlib.sha256(reference).digest() if reference is not None else b"-")
    return digest.hexdigest()


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    # Basic layout: CJK and Latin need no shaping, and it measures several times faster.
    return ImageFont.truetype(str(FONT), size, layout_engine=ImageFont.Layout.BASIC)


def _mask_of(char: str) -> tuple[tuple[int, int], bytes]:
    mask = _font(24).getmask(char)
    return mask.size, bytes(mask)


@functools.cache
def has_glyph(char: str) -> bool:
    """Whether the font draws `char` (rather than its .notdef box)."""
    return _mask_of(char) != _mask_of("\ue000")  # private use: never in the font


def drawable(text: str) -> str:
    """`text` as the font can draw it: each run of characters it lacks becomes one 〓,
    and the invisible marks it lacks (variation selectors, joiners) are left out."""
    out: list[str] = []
    for char in text:
        if char == " " or has_glyph(char):
            out.append(char)
        elif unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        elif not out or out[-1] != MISSING:
            out.append(MISSING)
    return "".join(out)


def _is_wide(char: str) -> bool:
    """A character a line may break before or after (CJK), as opposed to part of a word."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def _tokens(text: str) -> list[str]:
    """Pieces no line break falls inside: a word, one CJK character, a space; closing
    marks stay with what precedes them and opening marks with what follows."""
    tokens: list[str] = []
    opening = ""
    for char in text:
        if char == " ":
            if opening:
                tokens.append(opening)
                opening = ""
            tokens.append(" ")
        elif char in _OPENING:
            opening += char
        elif char in _CLOSING and tokens and tokens[-1] != " " and not opening:
            tokens[-1] += char
        elif (
            not opening
            and not _is_wide(char)
            and tokens
            and tokens[-1] != " "
            and not _is_wide(tokens[-1][-1])
        ):
            tokens[-1] += char  # the next letter of a word
        else:
            tokens.append(opening + char)
            opening = ""
    if opening:
        tokens.append(opening)
    return tokens


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """`text` in lines no wider than `width`: broken at spaces and between CJK
    characters, a word too long for a line broken anywhere."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if token == " ":
            if line:
                line += " "
            continue
        if font.getlength(line + token) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        for char in token:  # a token wider than a whole line: broken where it must
            if line and font.getlength(line + char) > width:
                lines.append(line)
                line = ""
            line += char
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _ellipsized(line: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    while line and font.getlength(line + "…") > width:
        line = line[:-1]
    return line.rstrip() + "…"


def fit_text(
    text: str, unit: int, width: float, height: float
) -> tuple[ImageFont.FreeTypeFont, list[str], int]:
    """The largest scene size whose wrapped lines fit `width` x `height`: the font, the
    lines and the line height; at the smallest size the lines that fit, the last one
    ending in an ellipsis."""
    for share in SCENE_SIZES:
        font = _font(max(8, round(unit * share)))
        step = round(font.size * LINE_SPACING)
        lines = wrap(text, font, width)
        if len(lines) * step <= height:
            return font, lines, step
    room = max(1, int(height // step))
    if len(lines) > room:
        lines = [*lines[: room - 1], _ellipsized(lines[room - 1], font, width)]
    return font, lines, step


@dataclass(frozen=True)
class _Layout:
    """Where things go on a `width`x`height` picture, in shares of its short side."""

    width: int
    height: int

    @property
    def unit(self) -> int:
        return min(self.width, self.height)

    @property
    def margin(self) -> int:
        return round(self.unit * 0.045)

    @property
    def pad(self) -> int:
        return round(self.unit * 0.028)

    @property
    def strip_height(self) -> int:
        return max(2, round(self.unit * 0.007) * 2)  # even: whole chroma rows

    @property
    def strip_top(self) -> int:
        return self.height - self.strip_height


def _seconds(value: int) -> str:
    return f"{value // 60}:{value % 60:02d}"


def _reference_picture(
    layout: _Layout, reference: bytes | None, options: AnimaticOptions
) -> Image.Image | None:
    """`reference` fitted to the picture as the provider gets it, cut-outs on the plain
    background; None without one."""
    if reference is None:
        return None
    fit = Fit(layout.width, layout.height, options.fit, options.pad_fill)
    pixels = fitted_pixels(reference, fit, max_pixels=DEFAULT_MAX_PIXELS)
    if pixels.mode == "RGBA":
        canvas = Image.new("RGBA", pixels.size, (*BACKGROUND, 255))
        pixels = Image.alpha_composite(canvas, pixels)
    return pixels.convert("RGB")


def _draw_header(draw: ImageDraw.ImageDraw, layout: _Layout, texts: tuple[str, str]) -> int:
    """The shot's number and its timing in a panel at the top left; its bottom edge."""
    big, small = _font(round(layout.unit * 0.07)), _font(round(layout.unit * 0.04))
    number, timing = texts
    gap = layout.pad
    width = big.getlength(number) + gap + small.getlength(timing)
    left = top = layout.margin
    bottom = top + 2 * layout.pad + round(big.size)
    draw.rounded_rectangle(
        (left, top, left + width + 2 * layout.pad, bottom), radius=layout.pad, fill=PANEL
    )
    baseline = top + layout.pad + round(big.size)
    draw.text((left + layout.pad, baseline), number, font=big, fill=TEXT, anchor="ls")
    draw.text(
        (left + layout.pad + big.getlength(number) + gap, baseline),
        timing,
        font=small,
        fill=MUTED,
        anchor="ls",
    )
    return bottom


def _draw_scene(
    draw: ImageDraw.ImageDraw, layout: _Layout, scene: str, top: int, *, centred: bool
) -> None:
    """The scene text on a panel between `top` and the strip: at the bottom (over a
    picture, as subtitles) or in the middle (on the plain background)."""
    box_width = layout.width - 2 * layout.margin
    room = layout.strip_top - layout.margin - top - 2 * layout.pad
    font, lines, step = fit_text(scene, layout.unit, box_width - 2 * layout.pad, room)
    if not lines:
        return
    height = len(lines) * step + 2 * layout.pad
    if centred:
        panel_top = top + (layout.strip_top - layout.margin - top - height) // 2
    else:
        panel_top = layout.strip_top - layout.margin - height
    left = layout.margin
    draw.rounded_rectangle(
        (left, panel_top, left + box_width, panel_top + height), radius=layout.pad, fill=PANEL
    )
    y = panel_top + layout.pad + (step - font.size) // 2
    for line in lines:
        draw.text((left + layout.pad, y), line, font=font, fill=TEXT)
        y += step


def _draw_note(draw: ImageDraw.ImageDraw, layout: _Layout, note: str, top: int) -> int:
    """A warning on a red panel under the header, wrapped to the picture; its bottom edge."""
    font = _font(round(layout.unit * 0.04))
    step = round(font.size * LINE_SPACING)
    width = layout.width - 2 * layout.margin - 2 * layout.pad
    lines = wrap(drawable(note), font, width)[:3]
    left = layout.margin
    right = left + 2 * layout.pad + max(round(font.getlength(line)) for line in lines)
    bottom = top + 2 * layout.pad + len(lines) * step
    draw.rounded_rectangle((left, top, right, bottom), radius=layout.pad, fill=NOTE)
    y = top + layout.pad + (step - font.size) // 2
    for line in lines:
        draw.text((left + layout.pad, y), line, font=font, fill=TEXT)
        y += step
    return bottom


def _draw_track(
    draw: ImageDraw.ImageDraw, layout: _Layout, cuts: Sequence[float], end: float
) -> None:
    """The empty strip, a notch above it at each cut (shares of the whole length), and
    a red mark twice as tall where the real video ends, when that is not the end."""
    draw.rectangle((0, layout.strip_top, layout.width, layout.height), fill=TRACK)
    notch = layout.strip_height
    for share in cuts:
        x = round(layout.width * share)
        draw.rectangle((x - 1, layout.strip_top - notch, x, layout.strip_top - 1), fill=NOTCH)
    if end < 1:
        x = round(layout.width * end)
        draw.rectangle((x - 2, layout.strip_top - 2 * notch, x + 1, layout.height), fill=OVER)


def _size(reel: Reel) -> tuple[int, int]:
    width, _, height = reel.size.partition("x")
    return int(width) // 2 * 2, int(height) // 2 * 2  # yuv420p: even sides


def shot_picture(
    board: ValidStoryboard | Reel,
    index: int,
    *,
    reference: bytes | None = None,
    options: AnimaticOptions = DEFAULT_OPTIONS,
    fitted: Image.Image | None = None,
) -> Image.Image:
    """Shot `index` (from 0) as the animatic shows it, strip empty: an RGB picture of
    the video's size, over `reference` (an image file's bytes) or, given instead,
    `fitted` (that image already fitted, to fit it once for all shots); with neither,
    over the plain background. An unnumbered card is always on the plain background."""
    reel = reel_of(board)
    width, height = _size(reel)
    layout = _Layout(width, height)
    shot = reel.shots[index]
    durations = [s.seconds for s in reel.shots]
    total = sum(durations)
    start = sum(durations[:index])
    if fitted is None and shot.numbered:
        fitted = _reference_picture(layout, reference, options)
    plain = fitted is None or not shot.numbered
    if fitted is None or plain:
        picture = Image.new("RGBA", (width, height), (*BACKGROUND, 255))
    else:
        picture = fitted.convert("RGBA")
    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    timing = f"{shot.seconds} s · {_seconds(start)}–{_seconds(start + shot.seconds)}"
    if shot.numbered:
        numbered = [n for n, s in enumerate(reel.shots) if s.numbered]
        header = (f"{numbered.index(index) + 1}/{len(numbered)}", timing)
    else:
        header = ("–", timing)
    bottom = _draw_header(draw, layout, header)
    if shot.note:
        bottom = _draw_note(draw, layout, shot.note, bottom + layout.pad)
    scene = drawable(shot.scene)
    _draw_scene(draw, layout, scene, bottom + layout.margin, centred=plain)
    cuts = [sum(durations[: n + 1]) / total for n in range(len(durations) - 1)]
    _draw_track(draw, layout, cuts, reel.video_seconds / total)
    return Image.alpha_composite(picture, overlay).convert("RGB")


def _yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """An sRGB colour as BT.709 limited-range Y, Cb, Cr (what the picture is encoded in)."""
    r, g, b = (c / 255 for c in rgb)
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    cb, cr = (b - y) / 1.8556, (r - y) / 1.5748
    return round(16 + 219 * y), round(128 + 224 * cb), round(128 + 224 * cr)


class _Planes:
    """A shot's picture as yuv420p plane bytes, copied into a fresh frame per output
    frame with the strip's filled part painted in."""

    def __init__(self, picture: Image.Image, layout: _Layout) -> None:
        self.layout = layout
        converted = VideoFrame.from_image(picture).reformat(  # type: ignore[no-untyped-call]
            format="yuv420p", dst_colorspace="ITU709"
        )
        # The constructor's own plane layout (line sizes), so `update` takes the bytes.
        template = VideoFrame(layout.width, layout.height, "yuv420p")
        self.planes: list[bytes] = []
        for source, target in zip(converted.planes, template.planes, strict=True):
            data = bytearray(target.buffer_size)
            src = memoryview(source)
            rows = target.height
            for row in range(rows):
                data[row * target.line_size : row * target.line_size + target.width] = src[
                    row * source.line_size : row * source.line_size + target.width
                ]
            self.planes.append(bytes(data))
        self.fill, self.over = _yuv(FILL), _yuv(OVER)

    def frame(self, filled: int, end: int) -> VideoFrame:
        """A frame of this shot with the strip filled over its first `filled` columns:
        in the fill colour up to column `end` (where the real video ends), red after."""
        layout = self.layout
        frame = VideoFrame(layout.width, layout.height, "yuv420p")
        for plane, data in zip(frame.planes, self.planes, strict=True):
            plane.update(data)
        filled -= filled % 2
        end -= end % 2
        if filled <= 0:
            return frame
        for index, plane in enumerate(frame.planes):
            shift = 0 if index == 0 else 1  # chroma is half size both ways
            value = bytes([self.fill[index]]) * (min(filled, end) >> shift)
            if filled > end:
                value += bytes([self.over[index]]) * ((filled - end) >> shift)
            view = memoryview(plane)
            for row in range(layout.strip_top >> shift, layout.height >> shift):
                at = row * plane.line_size
                view[at : at + len(value)] = value
        return frame


def render_animatic(
    board: ValidStoryboard | Reel,
    dst: Path,
    *,
    reference: bytes | None = None,
    options: AnimaticOptions = DEFAULT_OPTIONS,
    stop: threading.Event | None = None,
) -> Animatic:
    """Write `board`'s animatic to `dst` (an MP4): each shot held for its duration, over
    `reference` (an image file's bytes, fitted as `options` says) or a plain background.
    A `Reel` plays as it says, its strip red past the real video's end.

    Raises `StoryboardError` (`image.*`) for a reference that is not a usable image,
    `Stopped` when `stop` was set meanwhile (checked between frames).
    """
    reel = reel_of(board)
    width, height = _size(reel)
    layout = _Layout(width, height)
    durations = [shot.seconds for shot in reel.shots]
    fps = options.fps
    total_frames = sum(durations) * fps
    end = round(width * min(1.0, reel.video_seconds / sum(durations)))
    fitted = _reference_picture(layout, reference, options)
    time_base = Fraction(1, fps)
    with av.open(str(dst), "w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream(
            "libx264",
            rate=fps,
            options={"preset": PRESET, "crf": str(CRF), "x264-params": X264_PARAMS},
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        context = stream.codec_context
        # One thread: the bound on renders is the bound on cores (`bot.transcoder`).
        context.thread_count = 1
        # A key frame at each cut (forced below) and none in between: a shot is still.
        context.gop_size = total_frames
        # BT.709, limited range: what the planes hold and what HD players assume.
        context.colorspace = context.color_primaries = context.color_trc = 1
        context.color_range = 1
        number = 0
        for index, seconds in enumerate(durations):
            planes = _Planes(shot_picture(reel, index, options=options, fitted=fitted), layout)
            for step in range(seconds * fps):
                if stop is not None and stop.is_set():
                    raise Stopped
                # Filled up to the end of this frame: the last frame shows it full.
                frame = planes.frame(round(width * (number + 1) / total_frames), end)
                frame.pts, frame.time_base = number, time_base
                if step == 0:
                    frame.pict_type = av.video.frame.PictureType.I
                out.mux(stream.encode(frame))
                number += 1
        out.mux(stream.encode(None))
    with av.open(str(dst)) as done:
        duration = (done.duration or 0) / av.time_base
    return Animatic(
        size=dst.stat().st_size,
        duration=duration,
        width=width,
        height=height,
        frames=total_frames,
    )
