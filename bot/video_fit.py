"""Fitting a finished video under a member's upload limit, with PyAV (FFmpeg's libraries).

Discord's default upload limit for bots is 10 MiB; a 15 s Sora-2 video is often near it and
a 25 s pro one well over. `fit_video` transcodes to H.264 + AAC in an MP4 with `faststart`
(the index first, so Discord's player starts before the whole file arrives). The bitrate
comes from the duration and the limit, less a margin for the container and the audio; the
picture is scaled down a step (1080 → 720 → 540 → 360 → 240 lines on the short side) only
when that bitrate would fall below a watchable floor for the size. x264's one-pass average
bitrate can land a little over its target, so an output still over the limit is encoded
again at a bitrate lowered in proportion.

Frames are streamed from the demuxer to the encoder, never collected: memory is the codecs'
own buffers, whatever the length of the video. Everything here blocks; callers run it in
a thread (`bot.transcoder`).
"""

from __future__ import annotations

import io
import logging
import threading
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image
from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

# x264's speed/quality trade-off: "veryfast" spends about 1.1 s of CPU per second of 720p
# video (bench/video_fit.py); slower presets look better at the same bitrate for several
# times the CPU, which a bot sharing a small machine cannot spare.
PRESET = "veryfast"
# Short sides (lines) to step down through, largest first.
STEPS = (1080, 720, 540, 360, 240)
# Below this many bits per pixel per frame a smaller picture at the same bitrate looks
# better than a blocky large one (a judgement, not a measurement). At 30 frames/s: 720p
# ~1.4 Mbit/s, 360p ~0.35 Mbit/s, 240p ~0.15 Mbit/s.
FLOOR_BITS_PER_PIXEL = 0.05
# Frame rate assumed when the file does not say.
DEFAULT_FPS = 30.0
# Kept free of the limit: the MP4 index (about 1.3 KB per second of video and audio) and
# room for x264's one-pass aim, which lands a few per cent either side of its target.
MARGIN_BYTES = 16 * 1024
MARGIN_SHARE = 0.04
# Audio gets a tenth of the bitrate, in 16 kbit/s steps, within these bounds.
AUDIO_MIN_BPS = 32_000
AUDIO_MAX_BPS = 128_000
# Encodes after the first, when the output is still over the limit.
RETRIES = 2
# Each retry aims this much lower than the size it missed by would suggest.
RETRY_SLACK = 0.95
JPEG_QUALITY = 85


class CannotFit(Exception):
    """No playable video of this length fits under the limit (it is absurdly low)."""

    def __init__(self, duration: float, limit_bytes: int) -> None:
        super().__init__(f"{duration:.1f} s of video cannot fit in {limit_bytes} bytes")
        self.duration = duration
        self.limit_bytes = limit_bytes


class Stopped(Exception):
    """The bot is stopping: the transcode was abandoned between two frames."""


class Unreadable(Exception):
    """The file is not a video PyAV can read (damaged, or not a video at all)."""


class Probe(BaseModel):
    """What the source is: picture size, frame rate, length, and whether it has sound."""

    model_config = ConfigDict(frozen=True)

    width: int
    height: int
    fps: float
    duration: float
    has_audio: bool


class Plan(BaseModel):
    """One encode: the picture size and the two bitrates (bits per second)."""

    model_config = ConfigDict(frozen=True)

    width: int
    height: int
    video_bps: int
    audio_bps: int


class FitResult(BaseModel):
    """The fitted file: its size in bytes, length in seconds and picture size."""

    model_config = ConfigDict(frozen=True)

    size: int
    duration: float
    width: int
    height: int
    encodes: int


def floor_bps(width: int, height: int, fps: float) -> float:
    """The lowest video bitrate that still looks watchable at this size."""
    return FLOOR_BITS_PER_PIXEL * width * height * min(fps, 60.0)


def scaled(width: int, height: int, short_side: int) -> tuple[int, int]:
    """`width`x`height` with its short side at `short_side`, aspect kept, both even."""
    if min(width, height) <= short_side:
        return width - width % 2, height - height % 2
    factor = short_side / min(width, height)
    return (
        max(2, round(width * factor / 2) * 2),
        max(2, round(height * factor / 2) * 2),
    )


def audio_bps_for(total_bps: float) -> int:
    share = int(total_bps / 10) // 16_000 * 16_000
    return max(AUDIO_MIN_BPS, min(AUDIO_MAX_BPS, share))


def plan_fit(source: Probe, total_bps: float) -> Plan | None:
    """The largest size whose floor the bitrate meets (the source's own first, then each
    step below it); None when even the smallest falls below its floor."""
    audio = audio_bps_for(total_bps) if source.has_audio else 0
    video = total_bps - audio
    short = min(source.width, source.height)
    sizes = [scaled(source.width, source.height, short)]
    sizes += [scaled(source.width, source.height, s) for s in STEPS if s < short]
    for width, height in sizes:
        if video >= floor_bps(width, height, source.fps):
            return Plan(width=width, height=height, video_bps=int(video), audio_bps=audio)
    return None


def budget_bps(limit_bytes: int, duration: float) -> float:
    """Bits per second for video and audio together, the container's margin kept free."""
    usable = limit_bytes * (1 - MARGIN_SHARE) - MARGIN_BYTES
    return max(0.0, usable * 8 / max(duration, 0.1))


def _open(src: Path) -> InputContainer:
    try:
        return av.open(str(src), "r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise Unreadable(str(exc)) from exc


def _duration(container: InputContainer, stream: VideoStream) -> float:
    if container.duration is not None:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    raise Unreadable("the video does not say how long it is")


def probe(src: Path) -> Probe:
    """Read the container's header (no decoding)."""
    with _open(src) as container:
        if not container.streams.video:
            raise Unreadable("no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else DEFAULT_FPS
        return Probe(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps if 0 < fps <= 240 else DEFAULT_FPS,
            duration=_duration(container, stream),
            has_audio=bool(container.streams.audio),
        )


def _encode(src: Path, dst: Path, plan: Plan, fps: float, stop: threading.Event | None) -> None:
    """One pass: decode `src`, scale, encode to `dst` as `plan` says; streamed frame by
    frame. `stop` set ends it between two packets (a thread cannot be cancelled)."""
    with (
        _open(src) as inp,
        av.open(str(dst), "w", format="mp4", options={"movflags": "faststart"}) as out,
    ):
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"  # frame threads: decoding keeps up with the encoder
        ain = inp.streams.audio[0] if inp.streams.audio and plan.audio_bps else None
        rate = Fraction(vin.average_rate or vin.guessed_rate or Fraction(round(fps)))
        vout = out.add_stream("libx264", rate=rate, options={"preset": PRESET})
        vout.width, vout.height, vout.pix_fmt = plan.width, plan.height, "yuv420p"
        vout.bit_rate = plan.video_bps
        time_base = vout.codec_context.time_base or 1 / rate
        aout: AudioStream | None = None
        if ain is not None:
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate or 48_000)
            aout.bit_rate = plan.audio_bps
            aout.layout = "stereo" if ain.codec_context.channels >= 2 else "mono"
        last_pts = -1
        streams = [s for s in (vin, ain) if s is not None]
        for packet in inp.demux(*streams):
            if stop is not None and stop.is_set():
                raise Stopped
            for frame in packet.decode():
                if isinstance(frame, VideoFrame):
                    if frame.pts is None or frame.time_base is None:
                        pts = last_pts + 1
                    else:
                        pts = round(frame.pts * frame.time_base / time_base)
                    if pts <= last_pts:
                        continue  # two source frames in one output tick: keep the first
                    last_pts = pts
                    picture = frame.reformat(plan.width, plan.height, "yuv420p")
                    picture.pts, picture.time_base = pts, time_base
                    out.mux(vout.encode(picture))
                elif aout is not None:
                    out.mux(aout.encode(frame))  # type: ignore[arg-type]
        out.mux(vout.encode(None))
        if aout is not None:
            out.mux(aout.encode(None))


def fit_video(
    src: Path, dst: Path, limit_bytes: int, *, stop: threading.Event | None = None
) -> FitResult:
    """Transcode `src` into `dst`, at most `limit_bytes`; `CannotFit` when no playable
    video of its length fits, `Unreadable` when `src` is not a video, `Stopped` when
    `stop` was set meanwhile."""
    source = probe(src)
    total = budget_bps(limit_bytes, source.duration)
    for attempt in range(1 + RETRIES):
        plan = plan_fit(source, total)
        if plan is None:
            break
        try:
            _encode(src, dst, plan, source.fps, stop)
        except av.FFmpegError as exc:
            raise Unreadable(str(exc)) from exc
        size = dst.stat().st_size
        log.info(
            "fitted %s: %dx%d at %d+%d kbit/s -> %d bytes (limit %d, encode %d)",
            src.name,
            plan.width,
            plan.height,
            plan.video_bps // 1000,
            plan.audio_bps // 1000,
            size,
            limit_bytes,
            attempt + 1,
        )
        if size <= limit_bytes:
            with av.open(str(dst)) as done:
                duration = done.duration / av.time_base if done.duration else source.duration
            return FitResult(
                size=size,
                duration=duration,
                width=plan.width,
                height=plan.height,
                encodes=attempt + 1,
            )
        total *= limit_bytes / size * RETRY_SLACK
    dst.unlink(missing_ok=True)
    raise CannotFit(source.duration, limit_bytes)


def _frame_at(src: Path, seconds: float) -> Image.Image:
    """The first frame at or after `seconds` (the last one if the video ends before)."""
    with _open(src) as container:
        if not container.streams.video:
            raise Unreadable("no video stream")
        stream = container.streams.video[0]
        if seconds > 0 and stream.time_base is not None:
            container.seek(int(seconds / stream.time_base), stream=stream)
        found: VideoFrame | None = None
        try:
            for frame in container.decode(stream):
                found = frame
                if frame.time is not None and frame.time >= seconds:
                    break
        except av.FFmpegError as exc:
            if found is None:
                raise Unreadable(str(exc)) from exc
        if found is None:
            raise Unreadable("no frame could be decoded")
        image: Image.Image = found.to_image()  # type: ignore[no-untyped-call]
        return image


def _jpeg(image: Image.Image, max_bytes: int | None) -> bytes:
    """JPEG bytes, made smaller (quality, then size) until they fit `max_bytes`."""
    quality = JPEG_QUALITY
    while True:
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=quality, optimize=True)
        data = out.getvalue()
        if max_bytes is None or len(data) <= max_bytes:
            return data
        if quality > 40:
            quality -= 15
        elif min(image.size) > 64:
            image = image.resize((max(1, image.width // 2), max(1, image.height // 2)))
        else:
            raise CannotFit(0.0, max_bytes)


def still_frame(src: Path, max_bytes: int | None = None) -> bytes:
    """The middle frame as a JPEG (within `max_bytes` if given)."""
    middle = probe(src).duration / 2
    return _jpeg(_frame_at(src, middle), max_bytes)


def first_frame_jpeg(
    src: Path, max_bytes: int | None = None, long_side: int | None = None
) -> bytes:
    """A thumbnail from the video's first second: the frame at 1 s (or the middle of a
    shorter video), as a first frame is often black while the scene fades in; scaled down
    (never up) to at most `long_side` pixels on its longer side if given."""
    at = min(1.0, probe(src).duration / 2)
    image = _frame_at(src, at)
    if long_side is not None:
        image.thumbnail((long_side, long_side))
    return _jpeg(image, max_bytes)
