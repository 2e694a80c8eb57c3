"""Test videos made here with PyAV: noisy, so they really are as large as their bitrate.

Nothing is downloaded: each test (and `bench.video_fit`) makes the video it needs. A
camera pans over a fractal (detail an encoder can predict, as in generated video) under
fresh grain every frame (which it cannot), so at a high bitrate the file really is that
large; a sine tone fills the audio stream.
"""

from __future__ import annotations

import array
import math
import random
from fractions import Fraction
from pathlib import Path

import av
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame
from PIL import Image, ImageChops, ImageOps

AUDIO_RATE = 48_000
AUDIO_SAMPLES = 1024


def _scene(width: int, height: int) -> Image.Image:
    """A detailed picture twice the frame's size, for the camera to pan across."""
    fractal = Image.effect_mandelbrot((width * 2, height * 2), (-2.2, -1.2, 1.0, 1.2), 64)
    return ImageOps.colorize(fractal, black="#102040", white="#f0c080", mid="#20a060")


def _video_frame(
    scene: Image.Image, rng: random.Random, grain: bytes, index: int, size: tuple[int, int]
) -> VideoFrame:
    """The scene panned a little further, with fresh grain (which prediction cannot undo)."""
    width, height = size
    x, y = (index * 2) % width, index % height
    noise = Image.frombytes("L", size, rng.randbytes(width * height).translate(grain))
    picture = ImageChops.add(
        scene.crop((x, y, x + width, y + height)), noise.convert("RGB"), 1, -128
    )
    return VideoFrame.from_image(picture)


def _audio_frame(start: int) -> AudioFrame:
    tone = array.array(
        "h",
        (
            int(8000 * math.sin(2 * math.pi * 440 * (start + i) / AUDIO_RATE))
            for i in range(AUDIO_SAMPLES)
            for _ in range(2)  # stereo, interleaved
        ),
    )
    frame = AudioFrame(format="s16", layout="stereo", samples=AUDIO_SAMPLES)
    frame.planes[0].update(tone.tobytes())
    frame.sample_rate = AUDIO_RATE
    frame.pts = start
    frame.time_base = Fraction(1, AUDIO_RATE)
    return frame


def make_video(
    path: Path,
    *,
    width: int = 320,
    height: int = 240,
    seconds: float = 3.0,
    fps: int = 30,
    bitrate: int = 4_000_000,
    audio: bool = True,
    grain: int = 48,
    seed: int = 1,
    preset: str = "ultrafast",
) -> Path:
    """An H.264 (+ AAC) MP4 at about `bitrate` bits/s, written to `path`: a panning
    picture under grain of `grain` levels (0-255; 255 is pure noise)."""
    rng = random.Random(seed)
    scene = _scene(width, height)
    levels = bytes(128 - grain // 2 + i * grain // 256 for i in range(256))
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": preset})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = bitrate
        sound = out.add_stream("aac", rate=AUDIO_RATE) if audio else None
        if sound is not None:
            sound.bit_rate = 128_000
            sound.layout = "stereo"
        frames = round(seconds * fps)
        samples = 0
        for index in range(frames):
            frame = _video_frame(scene, rng, levels, index, (width, height))
            frame.pts = index
            out.mux(video.encode(frame))
            while sound is not None and samples < (index + 1) * AUDIO_RATE / fps:
                out.mux(sound.encode(_audio_frame(samples)))
                samples += AUDIO_SAMPLES
        out.mux(video.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))
    return path
