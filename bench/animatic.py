"""A 15 s, 3-shot, 720p animatic: `bot.animatic` against the `ffmpeg` command line.

Setup, once: `apt-get install -y ffmpeg` (the baseline only; the bot needs no system
ffmpeg). The storyboard has three 5 s shots (English, zh-CN, zh-TW scenes), landscape
1280x720, over a reference image (a colourised fractal as a JPEG: detail the encoder
cannot skip, the hard case) or, with `--plain`, the plain background.

- ours: `bot.animatic.render_animatic`, in one process, `--runs` times (the first also
  loads the font and warms the caches: it is reported apart), wall and CPU time of each
  render. Then once more in a fresh process (`python -m bench.animatic --child`), timed
  from outside like ffmpeg: interpreter, imports and one render.
- ffmpeg: the three shot pictures drawn by `bot.animatic.shot_picture` saved as PNGs
  (not timed), each looped for 5 s at the same frame rate, concatenated, the progress
  strip drawn by an `overlay` whose x moves with the frame number, and encoded with the
  same x264 settings (preset, parameters, CRF, one thread, a key frame at each cut,
  BT.709, no audio, `+faststart`). Timed from outside (`os.wait4` on the process, as in
  `bench.video_fit`).

Every output is opened with PyAV: frames, duration, bytes, index first.

    .venv/bin/python -m bench.animatic                # ~30 s on 2 cores
    .venv/bin/python -m bench.animatic --runs 9 --plain
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageOps

from bench.procs import machine
from bench.video_fit import INSTALL, rss_now_kb, timed
from bot import animatic
from bot.animatic import render_animatic, shot_picture
from bot.storyboard import Shot, StoryboardSettings, ValidStoryboard

SCENES = (
    "A red fox trots across a snowy field at dawn, its breath steaming in the cold air.",
    "镜头慢慢推近：狐狸停下来，竖起耳朵，听见远处传来的钟声。",
    "鏡頭拉遠，整片雪原在晨光中閃閃發亮，狐狸消失在樹林裡。",
)
SECONDS = 5
SIZE = "1280x720"


def storyboard() -> ValidStoryboard:
    return ValidStoryboard(
        shots=tuple(Shot(scene=s, duration=SECONDS) for s in SCENES),
        settings=StoryboardSettings(model="sora-2", seconds=SECONDS * len(SCENES)),
        size=SIZE,
    )


def reference_jpeg(path: Path) -> None:
    fractal = Image.effect_mandelbrot((1280, 720), (-2.2, -1.2, 1.0, 1.2), 64)
    picture = ImageOps.colorize(fractal, black="#102040", white="#f0c080", mid="#20a060")
    picture.save(path, format="JPEG", quality=90)


def render_timed(dst: Path, reference: bytes | None) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    render_animatic(storyboard(), dst, reference=reference)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def child(dst: Path, reference: Path | None) -> None:
    """Ours in a fresh process: one render, its in-process figures as JSON on stdout."""
    before = rss_now_kb()
    got = render_timed(dst, reference.read_bytes() if reference else None)
    print(json.dumps({"rss_before_kb": before, **got}))


def ffmpeg_argv(pngs: list[Path], dst: Path, fps: int, *, tuned: bool) -> list[str]:
    """The stills held for their shots, a strip moving with the frame number, our x264.

    `tuned`: each still is decoded and converted to YUV once and repeated by the `loop`
    filter, and the strip is laid over in YUV, as ours does. Otherwise the usual way of
    holding a picture (`-loop 1 -t 5 -i shot.png`), which decodes and converts the PNG
    again for every frame."""
    width, _, height = SIZE.partition("x")
    per_shot = SECONDS * fps
    total = per_shot * len(pngs)
    strip = animatic._Layout(int(width), int(height)).strip_height
    to_yuv = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
    fill = "0x{:02X}{:02X}{:02X}".format(*animatic.FILL)
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    graph = ""
    for n, png in enumerate(pngs):
        if tuned:
            argv += ["-i", str(png)]
            graph += f"[{n}:v]{to_yuv},loop=loop={per_shot - 1}:size=1:start=0[s{n}];"
        else:
            argv += ["-loop", "1", "-framerate", str(fps), "-t", str(SECONDS), "-i", str(png)]
            graph += f"[{n}:v]null[s{n}];"
    inputs = "".join(f"[s{n}]" for n in range(len(pngs)))
    graph += f"{inputs}concat=n={len(pngs)}:v=1,setpts=N/{fps}/TB[shots];"
    graph += f"color=c={fill}:s={width}x{strip}:r={fps}[bar];"
    overlay = f"overlay=x='-w+W*(n+1)/{total}':y=H-{strip}:shortest=1"
    if tuned:
        graph += f"[shots][bar]{overlay}:format=yuv420[v]"
    else:
        graph += f"[shots][bar]{overlay},{to_yuv}[v]"
    cuts = ",".join(str(SECONDS * n) for n in range(len(pngs)))
    argv += ["-filter_complex", graph, "-map", "[v]", "-an", "-r", str(fps)]
    argv += ["-c:v", "libx264", "-preset", animatic.PRESET, "-crf", str(animatic.CRF)]
    argv += ["-x264-params", animatic.X264_PARAMS, "-threads", "1", "-g", str(total)]
    argv += ["-force_key_frames", cuts, "-colorspace", "bt709", "-color_primaries", "bt709"]
    argv += ["-color_trc", "bt709", "-color_range", "tv", "-movflags", "+faststart", str(dst)]
    return argv


def check(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        duration = (container.duration or 0) / av.time_base
        streams = sorted(f"{s.type}:{s.codec_context.name}" for s in container.streams)
    data = path.read_bytes()
    return {
        "bytes": len(data),
        "frames": frames,
        "duration": duration,
        "streams": streams,
        "faststart": data.index(b"moov") < data.index(b"mdat"),
    }


def run(runs: int, plain: bool, workdir: Path) -> None:
    if shutil.which("ffmpeg") is None:
        raise SystemExit(f"ffmpeg is not installed (the baseline): {INSTALL}")
    version = subprocess.run(
        ["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True, check=True
    ).stdout.split("\n", 1)[0]
    print(f"{machine()}, PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}), {version}")
    ref_path: Path | None = None
    reference: bytes | None = None
    if not plain:
        ref_path = workdir / "reference.jpg"
        reference_jpeg(ref_path)
        reference = ref_path.read_bytes()
    behind = "the plain background" if reference is None else f"a {len(reference):,} B JPEG"
    print(
        f"storyboard: {len(SCENES)} shots of {SECONDS} s, {SIZE}, over {behind},"
        f" {animatic.FPS} frames/s, x264 {animatic.PRESET} {animatic.X264_PARAMS} crf {animatic.CRF}"
    )
    board = storyboard()
    start = time.perf_counter()
    pngs = []
    for index in range(len(SCENES)):
        png = workdir / f"shot{index + 1}.png"
        shot_picture(board, index, reference=reference).save(png)
        pngs.append(png)
    print(f"the three stills for ffmpeg drawn and saved in {time.perf_counter() - start:.2f} s")

    cold = render_timed(workdir / "cold.mp4", reference)
    ours = [render_timed(workdir / f"ours-{n}.mp4", reference) for n in range(runs)]
    ours_out = check(workdir / "ours-0.mp4")
    argv = [sys.executable, "-m", "bench.animatic", "--child", str(workdir / "fresh.mp4")]
    if ref_path is not None:
        argv += ["--reference", str(ref_path)]
    fresh_wall, fresh_cpu, fresh_rss, out = timed(argv, workdir)
    fresh = json.loads(out)
    ffmpeg: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for n in range(runs):
        for tuned in (True, False):
            dst = workdir / f"ffmpeg-{'tuned' if tuned else 'loop'}-{n}.mp4"
            wall, cpu, rss, _ = timed(ffmpeg_argv(pngs, dst, animatic.FPS, tuned=tuned), workdir)
            ffmpeg[tuned].append({"wall": wall, "cpu": cpu, "rss_mb": rss / 1024})
    tuned_out = check(workdir / "ffmpeg-tuned-0.mp4")
    loop_out = check(workdir / "ffmpeg-loop-0.mp4")

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    def spread(rows: list[dict[str, float]], key: str) -> str:
        values = [r[key] for r in rows]
        return f"{med(rows, key):.3f} ({min(values):.3f}-{max(values):.3f})"

    print()
    for name, got in (("ours", ours_out), ("ffmpeg", tuned_out), ("ffmpeg -loop 1", loop_out)):
        print(
            f"{name}: {got['bytes']:,} bytes, {got['frames']} frames, {got['duration']:.3f} s,"
            f" {'+'.join(got['streams'])}, moov first: {got['faststart']}"
        )
    print()
    print("| tool | runs | wall s median (min-max) | CPU s median | output bytes |")
    print("|---|---|---|---|---|")
    print(
        f"| `render_animatic`, in process | {runs} | {spread(ours, 'wall')}"
        f" | {med(ours, 'cpu'):.3f} | {ours_out['bytes']:,} |"
    )
    print(f"| `render_animatic`, first in process | 1 | {cold['wall']:.3f} | {cold['cpu']:.3f} | |")
    print(
        f"| `python -m bench.animatic --child` (fresh process) | 1 | {fresh_wall:.3f}"
        f" (render {fresh['wall']:.3f}) | {fresh_cpu:.3f} | |"
    )
    for tuned, name, got in (
        (True, "`ffmpeg`, each still decoded once (`loop` filter)", tuned_out),
        (False, "`ffmpeg`, `-loop 1` inputs", loop_out),
    ):
        print(
            f"| {name} | {runs} | {spread(ffmpeg[tuned], 'wall')}"
            f" | {med(ffmpeg[tuned], 'cpu'):.3f} | {got['bytes']:,} |"
        )
    best = ffmpeg[True]
    print(
        f"\nours in process / tuned ffmpeg: wall {med(ours, 'wall') / med(best, 'wall'):.2f}x,"
        f" CPU {med(ours, 'cpu') / med(best, 'cpu'):.2f}x;"
        f" fresh process peak RSS {fresh_rss / 1024:.0f} MB"
        f" ({fresh['rss_before_kb'] / 1024:.0f} MB before the render),"
        f" ffmpeg {max(r['rss_mb'] for r in best):.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="renders of each")
    parser.add_argument("--plain", action="store_true", help="no reference image")
    parser.add_argument("--keep", type=Path, help="keep the stills and outputs here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.reference)
        return
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(args.runs, args.plain, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="bench-animatic-") as tmp:
        run(args.runs, args.plain, Path(tmp))


if __name__ == "__main__":
    main()
