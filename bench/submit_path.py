"""The submission path with a 5 MB reference image: the bot's client against the openai SDK.

One job = a validated 2-shot storyboard (8 s, 1280x720) and a 5 MB PNG (random
noise, so it does not compress) turned into a create request that the fake
provider (openai dialect, in a process of its own) accepts.

- ours: `validate_storyboard`, `bot.images.check_image` (decodes every pixel,
  in a thread as the bot does), `CreateVideoRequest.from_storyboard`,
  `VideoClient.create` (via `VideoApi.client_for`: pacer, image semaphore, aiohttp);
- SDK: `AsyncOpenAI().videos.create(model, prompt, seconds, size, input_reference)`
  from the official `openai` package (`.venv/bin/pip install openai`), same prompt.

Each client runs in a fresh process (`bench.submit_path_client`): two warm-up
jobs with a tiny image, then `--runs` timed jobs one after another (wall time
per job, CPU per job, the process's RSS before them and its peak during them,
VmHWM after a clear_refs reset), then `--trace-runs` jobs under tracemalloc
(peak Python allocations per job). The image bytes are in memory before any
of this, as a downloaded attachment would be.

    .venv/bin/python -m bench.submit_path
    .venv/bin/python -m bench.submit_path --runs 50 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from bench.procs import MB, ROOT, ProviderProcess, machine, noise_png
from bench.submit_path_client import API_KEY

IMAGE_BYTES = 5_000_000
KINDS = ("ours", "sdk")
NAMES = {"ours": "Storyboard (aiohttp)", "sdk": "openai SDK (httpx)"}


async def run_client(
    kind: str, base_url: str, image: Path, small: Path, runs: int, traces: int
) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.submit_path_client",
        "--kind",
        kind,
        "--base-url",
        base_url,
        "--image",
        str(image),
        "--small",
        str(small),
        "--runs",
        str(runs),
        "--trace-runs",
        str(traces),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 600)
    if proc.returncode != 0 or not out.strip():
        raise RuntimeError(f"bench.submit_path_client --kind {kind} failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    if "error" in result:
        raise SystemExit(result["error"])
    return result


def pooled(results: list[dict[str, Any]], key: str) -> list[float]:
    return [float(v) for r in results for v in r[key]]


def median_of(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in results)


def peak_growth(results: list[dict[str, Any]]) -> float | None:
    peaks = [r["peak_rss"] - r["idle_rss"] for r in results if r["peak_rss"] is not None]
    return statistics.median(peaks) if peaks else None


def cells(kind: str, results: list[dict[str, Any]]) -> list[str]:
    walls = pooled(results, "walls")
    growth = peak_growth(results)
    return [
        NAMES[kind],
        f"{statistics.median(walls) * 1000:.1f}",
        f"{min(walls) * 1000:.1f} / {max(walls) * 1000:.1f}",
        f"{median_of(results, 'cpu_per_job') * 1000:.1f}",
        f"{statistics.median(pooled(results, 'trace_peaks')) / MB:.2f}",
        f"{growth / MB:.1f}" if growth is not None else "n/a",
        f"{statistics.median(r['after_rss'] - r['idle_rss'] for r in results) / MB:.1f}",
        f"{median_of(results, 'idle_rss') / MB:.0f}",
    ]


def ratio_cells(ours: list[dict[str, Any]], sdk: list[dict[str, Any]]) -> list[str]:
    def r(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}x" if a is not None and b else "-"

    return [
        "ratio ours / SDK",
        r(statistics.median(pooled(ours, "walls")), statistics.median(pooled(sdk, "walls"))),
        "",
        r(median_of(ours, "cpu_per_job"), median_of(sdk, "cpu_per_job")),
        r(
            statistics.median(pooled(ours, "trace_peaks")),
            statistics.median(pooled(sdk, "trace_peaks")),
        ),
        r(peak_growth(ours), peak_growth(sdk)),
        "",
        r(median_of(ours, "idle_rss"), median_of(sdk, "idle_rss")),
    ]


HEADER = (
    "| client | wall ms/job (median) | min / max ms | CPU ms/job | tracemalloc peak MB/job "
    "| RSS peak growth MB | RSS kept MB | RSS before MB |\n|---|---|---|---|---|---|---|---|"
)


async def main(runs: int, traces: int, rounds: int) -> None:
    try:
        import openai  # noqa: F401  (only checks that the baseline can run)
    except ImportError:
        from bench.submit_path_client import SDK_MISSING

        raise SystemExit(SDK_MISSING) from None
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
        image, small = Path(tmp) / "reference.png", Path(tmp) / "small.png"
        image.write_bytes(noise_png(IMAGE_BYTES))
        out = io.BytesIO()
        Image.new("RGB", (64, 36), "purple").save(out, format="PNG")
        small.write_bytes(out.getvalue())
        size = image.stat().st_size
        async with ProviderProcess(key=API_KEY, dialect="openai") as provider:
            for _ in range(rounds):
                for kind in KINDS:  # alternated, so drift hits both alike
                    results[kind].append(
                        await run_client(kind, provider.base_url, image, small, runs, traces)
                    )
            stats = await provider.stats()
    expected = rounds * len(KINDS) * (runs + traces + 3)
    print(
        f"\ncreate with a {size / 1e6:.1f} MB PNG ({size / MB:.2f} MiB), {rounds} process(es) "
        f"x {runs} jobs per client ({machine()})\n"
    )
    print(HEADER)
    print("| " + " | ".join(cells("ours", results["ours"])) + " |")
    print("| " + " | ".join(cells("sdk", results["sdk"])) + " |")
    print("| " + " | ".join(ratio_cells(results["ours"], results["sdk"])) + " |")
    decode = median_of(results["ours"], "decode") * 1000
    create = median_of(results["ours"], "create") * 1000
    print(f"\nours, split: check_image {decode:.1f} ms, request + answer {create:.1f} ms (medians)")
    print(
        f"provider: {stats['routes'].get('create', 0)} creates (expected {expected}), "
        f"{stats['refused_creates']} refused by the contract"
    )
    if any(r["peak_rss"] is None for rs in results.values() for r in rs):
        print("(this kernel refused /proc/self/clear_refs: no RSS peak per phase)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="timed jobs per client process")
    parser.add_argument("--trace-runs", type=int, default=5, help="jobs under tracemalloc")
    parser.add_argument("--rounds", type=int, default=3, help="processes per client")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.trace_runs, args.rounds))
