"""Fitting a 25 MB, 15 s, 720p video to 10 MiB: `bot.video_fit` against the `ffmpeg` CLI.

Setup, once: `apt-get install -y ffmpeg` (the baseline only; the bot needs no system
ffmpeg, PyAV's wheels carry FFmpeg's libraries). The script says so if it is missing.

The source is made first with PyAV (`tests.video_samples.make_video`: a camera panning
over a fractal under fresh grain, a sine tone; H.264 at 13 Mbit/s + AAC), so it really is
about 25 MB. Then, alternating, in fresh processes (each started by a small launcher, so
its peak RSS is its own):

- ours: `python -m bench.video_fit --child SRC DST LIMIT`, which calls
  `bot.video_fit.fit_video` (probe, plan, encode, and again if over the limit);
- ffmpeg: `ffmpeg -i SRC -c:v libx264 -preset P -b:v V [-vf scale=WxH] -pix_fmt yuv420p
  -c:a aac -b:a A -movflags +faststart DST`, with the preset, bitrates and size our
  first encode uses (`plan_fit`), so both do the same work once.

Each run's wall time, CPU time and peak RSS come from `os.wait4` on its process (the
kernel's ru_maxrss of that child alone, see `LAUNCHER`); ours also reports its RSS before the fit (the
interpreter, PyAV, Pillow and pydantic loaded). Every output is opened with PyAV: size
against the limit, duration against the source (2 % at most), H.264 + AAC, `moov` first.

    .venv/bin/python -m bench.video_fit              # ~2 min on 2 cores
    .venv/bin/python -m bench.video_fit --rounds 5
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

from bench.procs import ROOT, machine
from bot.video_fit import PRESET, budget_bps, fit_video, plan_fit, probe
from tests.video_samples import make_video

MIB = 1024 * 1024
INSTALL = "apt-get install -y ffmpeg"


def rss_now_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child(src: Path, dst: Path, limit: int) -> None:
    """Ours, in a process of its own: one `fit_video`, its result as JSON on stdout."""
    before = rss_now_kb()
    result = fit_video(src, dst, limit)
    print(json.dumps({"rss_before_kb": before, **result.model_dump()}))


# Runs the measured command and reports its own child's rusage. A child's ru_maxrss counts
# the memory it had before exec (the forking parent's pages), so the fork must come from a
# small process: this one, started with `python -S`, is about 10 MB, far below either tool.
LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"code": os.waitstatus_to_exitcode(status), "wall": time.perf_counter() - start,
               "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, out)
"""


def timed(argv: list[str], workdir: Path) -> tuple[float, float, int, str]:
    """Run `argv`: wall seconds, CPU seconds, peak RSS (KiB) of that process, stdout."""
    figures = workdir / "rusage.json"
    proc = subprocess.run(
        [sys.executable, "-S", "-c", LAUNCHER, str(figures), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    got = json.loads(figures.read_text())
    if proc.returncode != 0 or got["code"] != 0:
        raise RuntimeError(f"{argv[0]} exited {got['code']}: {proc.stderr.strip()[-2000:]}")
    return got["wall"], got["cpu"], got["maxrss_kb"], proc.stdout


def ffmpeg_argv(src: Path, dst: Path, limit: int) -> list[str]:
    """The ffmpeg command line doing what our first encode does."""
    source = probe(src)
    plan = plan_fit(source, budget_bps(limit, source.duration))
    if plan is None:
        raise SystemExit(f"no playable video of {source.duration:.1f} s fits in {limit} bytes")
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src)]
    argv += ["-c:v", "libx264", "-preset", PRESET, "-b:v", str(plan.video_bps)]
    if (plan.width, plan.height) != (source.width, source.height):
        argv += ["-vf", f"scale={plan.width}:{plan.height}"]
    argv += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", str(plan.audio_bps)]
    return [*argv, "-movflags", "+faststart", str(dst)]


def check(path: Path, limit: int, source_duration: float) -> dict[str, Any]:
    """What a member would get: size, length, streams, and whether the index comes first."""
    with av.open(str(path)) as container:
        streams = sorted(f"{s.type}:{s.codec_context.name}" for s in container.streams)
        duration = (container.duration or 0) / av.time_base
        video = container.streams.video[0].codec_context
        size = f"{video.width}x{video.height}"
    data = path.read_bytes()
    order, at = [], 0
    while at + 8 <= len(data):
        box = int.from_bytes(data[at : at + 4], "big")
        order.append(data[at + 4 : at + 8].decode("latin-1"))
        at += max(box, 8)
    return {
        "bytes": len(data),
        "fits": len(data) <= limit,
        "duration": duration,
        "duration_off": abs(duration - source_duration) / source_duration,
        "streams": streams,
        "size": size,
        "faststart": order.index("moov") < order.index("mdat"),
    }


def run(rounds: int, limit: int, seconds: float, workdir: Path) -> None:
    if shutil.which("ffmpeg") is None:
        raise SystemExit(f"ffmpeg is not installed (the baseline): {INSTALL}")
    version = subprocess.run(
        ["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True, check=True
    ).stdout.split("\n", 1)[0]
    src = workdir / "source.mp4"
    start = time.perf_counter()
    # In a process of its own: this one stays small (see LAUNCHER).
    subprocess.run(
        [sys.executable, "-m", "bench.video_fit", "--make", str(src), "--seconds", str(seconds)],
        cwd=ROOT,
        check=True,
    )
    made = time.perf_counter() - start
    source = probe(src)
    plan = plan_fit(source, budget_bps(limit, source.duration))
    print(
        f"source: {src.stat().st_size / 1e6:.1f} MB ({src.stat().st_size / MIB:.1f} MiB),"
        f" {source.duration:.2f} s, {source.width}x{source.height} at {source.fps:g}/s"
        f" (made in {made:.0f} s); limit {limit / MIB:g} MiB; plan {plan}"
    )
    print(f"{machine()}, PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}), {version}")
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "ffmpeg": []}
    for n in range(rounds):
        for kind in ("ours", "ffmpeg"):
            dst = workdir / f"{kind}-{n}.mp4"
            if kind == "ours":
                argv = [sys.executable, "-m", "bench.video_fit", "--child", str(src), str(dst)]
                argv.append(str(limit))
            else:
                argv = ffmpeg_argv(src, dst, limit)
            wall, cpu, peak_kb, out = timed(argv, workdir)
            figures = {"wall": wall, "cpu": cpu, "peak_mb": peak_kb / 1024}
            figures.update(check(dst, limit, source.duration))
            if kind == "ours":
                reported = json.loads(out)
                figures["rss_before_mb"] = reported["rss_before_kb"] / 1024
                figures["encodes"] = reported["encodes"]
            runs[kind].append(figures)
            print(
                f"  round {n + 1} {kind:6}: {wall:6.2f} s wall, {cpu:6.2f} s CPU,"
                f" peak RSS {peak_kb / 1024:5.0f} MB, {figures['bytes']:,} bytes"
                f" ({'fits' if figures['fits'] else 'OVER the limit'}),"
                f" {figures['duration']:.3f} s ({figures['duration_off']:.2%} off),"
                f" {figures['size']}, {'+'.join(figures['streams'])},"
                f" moov first: {figures['faststart']}"
            )
    report(runs, limit)


def report(runs: dict[str, list[dict[str, Any]]], limit: int) -> None:
    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    print()
    print(
        "| tool | wall s median (min-max) | CPU s median | peak RSS MB (max) | output bytes"
        " | fits 10 MiB | duration off (max) | encodes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind, name in (("ours", "bot.video_fit (PyAV)"), ("ffmpeg", "ffmpeg CLI")):
        rs = runs[kind]
        walls = [r["wall"] for r in rs]
        sizes = sorted({r["bytes"] for r in rs})
        encodes = "/".join(str(r.get("encodes", 1)) for r in rs)
        print(
            f"| {name} | {med(kind, 'wall'):.2f} ({min(walls):.2f}-{max(walls):.2f})"
            f" | {med(kind, 'cpu'):.2f} | {max(r['peak_mb'] for r in rs):.0f}"
            f" | {', '.join(f'{s:,}' for s in sizes)}"
            f" | {sum(r['fits'] for r in rs)}/{len(rs)}"
            f" | {max(r['duration_off'] for r in rs):.2%} | {encodes} |"
        )
    ours_before = max(r["rss_before_mb"] for r in runs["ours"])
    print(
        f"\nours / ffmpeg: wall {med('ours', 'wall') / med('ffmpeg', 'wall'):.2f}x (goal <= 1.1x),"
        f" CPU {med('ours', 'cpu') / med('ffmpeg', 'cpu'):.2f}x,"
        f" peak RSS {max(r['peak_mb'] for r in runs['ours']) / max(r['peak_mb'] for r in runs['ffmpeg']):.2f}x"
        f" (ours {ours_before:.0f} MB before the fit: interpreter and libraries)"
    )
    every = all(r["fits"] and r["duration_off"] <= 0.02 for r in runs["ours"])
    print(f"ours: every output <= {limit:,} bytes and within 2 % of the duration: {every}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs of each, alternated")
    parser.add_argument("--limit-mib", type=float, default=10.0)
    parser.add_argument("--keep", type=Path, help="keep the source and outputs here")
    parser.add_argument("--child", nargs=3, metavar=("SRC", "DST", "LIMIT"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="source length (memory must not grow with it)"
    )
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make_video(args.make, width=1280, height=720, seconds=args.seconds, bitrate=13_000_000)
        return
    if args.child:
        src, dst, limit = args.child
        child(Path(src), Path(dst), int(limit))
        return
    limit = int(args.limit_mib * MIB)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(args.rounds, limit, args.seconds, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        run(args.rounds, limit, args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
