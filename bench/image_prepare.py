"""A 12 MP phone photo made ready for a 1280x720 video: the bot against plain Pillow.

The photo is made here, once, with Pillow: 4032x3024 (a phone's 12 MP sensor), a
smooth colour field with shapes and sensor-like noise so that it compresses like a
photo (~4.6 MB at JPEG quality 92), EXIF orientation 6 (held upright) and a GPS
position. Each variant does the whole job: decode, turn upright, fit to exactly
1280x720 (cover, centred), drop the metadata, encode a JPEG at quality 90.

- ours: `bot.images.check_image(data, ..., fit=Fit(1280, 720))`, as the bot runs it
  for a guild on the openai profile (JPEG draft mode, resize in the sensor's
  orientation, turn the small result, pixels only);
- Pillow: `ImageOps.exif_transpose(Image.open(...))`, `ImageOps.fit(..., (1280, 720))`,
  `save(..., "JPEG", quality=90)`: what the Pillow documentation suggests.

Each variant runs in fresh processes (`--child`), alternated over `--rounds`. Memory
is the kernel's peak RSS: VmHWM from /proc/self/status, reset with clear_refs just
before the first preparation in the process (cold, as the first photo after a start),
minus VmRSS just before it; the bytes of the photo are in memory before, as a
downloaded attachment would be. Time is the median wall time of `--runs`
preparations after that one, and their median CPU time (less disturbed by other
work on the machine). Then `--images` photos (separate copies) prepared at
once on as many threads, in a fresh process each: the process's whole peak RSS
(interpreter, imports and all) and the growth over the RSS before.

    .venv/bin/python -m bench.image_prepare            # ~40 s
    .venv/bin/python -m bench.image_prepare --runs 20 --rounds 5
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageDraw, ImageFilter, ImageOps

from bench.rss import reset_peak_rss, status

MB = 1024 * 1024
SENSOR = (4032, 3024)
TARGET = (1280, 720)
QUALITY = 90
VARIANTS = ("ours", "pillow")
NAMES = {"ours": "Storyboard `check_image`", "pillow": "plain Pillow"}


def phone_photo(seed: int = 7) -> bytes:
    """A 12 MP JPEG as a phone writes it: orientation 6, a GPS position, ~4.6 MB."""
    rnd = random.Random(seed)
    field = Image.new("RGB", (64, 48))
    for y in range(48):
        for x in range(64):
            field.putpixel((x, y), (90 + 120 * x // 63, 60 + 100 * y // 47, 160 - 80 * x // 63))
    img = field.resize(SENSOR, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y, r = rnd.randrange(SENSOR[0]), rnd.randrange(SENSOR[1]), rnd.randrange(40, 600)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(6))
    img = Image.blend(img, Image.effect_noise(SENSOR, 40).convert("RGB"), 0.22)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.12)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


# -- the two variants (imported only in their own child process) ------------------------


def ours() -> Callable[[bytes], bytes]:
    from bot.images import Fit, check_image

    fit = Fit(*TARGET)

    def prepare(data: bytes) -> bytes:
        return check_image(data, "IMG_0001.JPG", max_bytes=64 * MB, fit=fit).data

    return prepare


def pillow() -> Callable[[bytes], bytes]:
    def prepare(data: bytes) -> bytes:
        with Image.open(io.BytesIO(data)) as img:
            upright = ImageOps.exif_transpose(img)
        fitted = ImageOps.fit(upright, TARGET)
        out = io.BytesIO()
        fitted.save(out, format="JPEG", quality=QUALITY)
        return out.getvalue()

    return prepare


# -- the child process ------------------------------------------------------------------


def child(variant: str, photo: Path, runs: int, images: int, out: Path | None) -> dict[str, Any]:
    prepare = ours() if variant == "ours" else pillow()
    data = photo.read_bytes()
    gc.collect()
    if images > 1:
        return at_once(prepare, data, images)
    before = status()["VmRSS"]
    reset = reset_peak_rss()
    result = prepare(data)
    peak = status()["VmHWM"]
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        prepare(data)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if out is not None:
        out.write_bytes(result)
    return {
        "rss_before": before,
        "peak": peak if reset else None,
        "times": times,
        "cpu": cpu,
        "bytes_out": len(result),
    }


def at_once(prepare: Callable[[bytes], bytes], data: bytes, images: int) -> dict[str, Any]:
    before = status()["VmRSS"]
    reset = reset_peak_rss()
    copies = [bytes(bytearray(data)) for _ in range(images)]  # one download per member
    start = threading.Barrier(images)

    def one(photo: bytes) -> int:
        start.wait()
        return len(prepare(photo))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=images) as pool:
        sizes = list(pool.map(one, copies))
    wall = time.perf_counter() - t0
    after = status()
    return {
        "rss_before": before,
        "peak": after["VmHWM"] if reset else None,
        "wall": wall,
        "outputs": len(sizes),
    }


def run_child(
    variant: str, photo: Path, runs: int, images: int, out: Path | None
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.image_prepare", "--child", variant]
    command += ["--photo", str(photo), "--runs", str(runs), "--images", str(images)]
    if out is not None:
        command += ["--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the parent: runs, checks and prints -------------------------------------------------


def metadata_left(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data)) as img:
        keys = [k for k in img.info if not k.startswith("jfif") and k != "dpi"]
        if len(img.getexif()):
            keys.append("EXIF")
    return keys


def mean_difference(a: bytes, b: bytes) -> float:
    with Image.open(io.BytesIO(a)) as one, Image.open(io.BytesIO(b)) as two:
        x, y = one.convert("L").tobytes(), two.convert("L").tobytes()
    return sum(abs(p - q) for p, q in zip(x, y, strict=True)) / len(x)


def mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value / MB:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--child", choices=VARIANTS)
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.photo, args.runs, args.images, args.out)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "IMG_0001.JPG"
        photo.write_bytes(phone_photo())
        with Image.open(photo) as img:
            size, orientation = img.size, img.getexif().get(ExifTags.Base.Orientation)
        print(
            f"photo: {size[0]}x{size[1]}, {photo.stat().st_size / 1e6:.2f} MB, "
            f"orientation {orientation}, GPS; to {TARGET[0]}x{TARGET[1]} JPEG q{QUALITY}"
        )
        single: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
        outputs = {v: Path(tmp) / f"{v}.jpg" for v in VARIANTS}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                single[variant].append(run_child(variant, photo, args.runs, 1, outputs[variant]))
        many = {v: run_child(v, photo, 0, args.images, None) for v in VARIANTS}
        report(single, many, outputs, args)


def report(
    single: dict[str, list[dict[str, Any]]],
    many: dict[str, dict[str, Any]],
    outputs: dict[str, Path],
    args: argparse.Namespace,
) -> None:
    rows: dict[str, dict[str, Any]] = {}
    for variant, results in single.items():
        times = [t for r in results for t in r["times"]]
        growth = [r["peak"] - r["rss_before"] for r in results if r["peak"] is not None]
        rows[variant] = {
            "median_ms": statistics.median(times) * 1000,
            "cpu_ms": statistics.median(t for r in results for t in r["cpu"]) * 1000,
            "min_ms": min(times) * 1000,
            "max_ms": max(times) * 1000,
            "growth": statistics.median(growth) if growth else None,
            "before": statistics.median(r["rss_before"] for r in results),
            "out": outputs[variant].read_bytes(),
        }
    print(
        f"\none photo ({args.rounds} processes per variant, {args.runs} timed runs each)\n"
        "| variant | wall ms (median) | min / max ms | CPU ms (median) | peak RSS growth MB "
        "| RSS before MB | output | metadata left |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for variant in VARIANTS:
        row = rows[variant]
        with Image.open(io.BytesIO(row["out"])) as img:
            shape = f"{img.width}x{img.height}, {len(row['out']) / 1e3:.0f} KB"
        print(
            f"| {NAMES[variant]} | {row['median_ms']:.1f} | {row['min_ms']:.1f} / "
            f"{row['max_ms']:.1f} | {row['cpu_ms']:.1f} | {mb(row['growth'])} | {mb(row['before'])} | {shape} "
            f"| {', '.join(metadata_left(row['out'])) or 'none'} |"
        )
    o, p = rows["ours"], rows["pillow"]
    memory = (
        f"{o['growth'] / p['growth']:.2f}x"
        if o["growth"] is not None and p["growth"]
        else "n/a (clear_refs refused)"
    )
    print(
        f"| ratio ours / Pillow | {o['median_ms'] / p['median_ms']:.2f}x | "
        f"| {o['cpu_ms'] / p['cpu_ms']:.2f}x | {memory} | | | |"
    )
    print(
        f"mean difference between the two outputs: "
        f"{mean_difference(o['out'], p['out']):.2f} / 255 (grey levels)"
    )
    print(
        f"\n{args.images} photos at once ({args.images} threads, one process per variant)\n"
        "| variant | peak RSS MB | RSS before MB | growth MB | wall s |"
    )
    print("|---|---|---|---|---|")
    for variant in VARIANTS:
        r = many[variant]
        growth = r["peak"] - r["rss_before"] if r["peak"] is not None else None
        print(
            f"| {NAMES[variant]} | {mb(r['peak'])} | {mb(r['rss_before'])} | {mb(growth)} "
            f"| {r['wall']:.2f} |"
        )
    if not all(r["peak"] for rs in single.values() for r in rs):
        print("(this kernel refused /proc/self/clear_refs: peaks are since process start)")


if __name__ == "__main__":
    main()
