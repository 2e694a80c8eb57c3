"""The PostgreSQL benchmarks at a tiny size: each command runs and prints its table
(`bench.pg_pool`: one statement per store call for our pool, two for asyncpg's default;
`bench.key_pacing`: both pacers granted starts). The figures themselves are
the benchmarks' business."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.pg_server import ENV_URL, PgServer

ROOT = Path(__file__).resolve().parents[1]


async def bench(request: pytest.FixtureRequest, *argv: str) -> str:
    """Run `python -m bench.<argv>` on the session's PostgreSQL; what it printed."""
    server: PgServer = request.getfixturevalue("pg_server")
    env = {**os.environ, ENV_URL: server.admin_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_the_pool_bench_runs_and_counts_one_statement_per_call(
    request: pytest.FixtureRequest,
) -> None:
    out = await bench(request, "bench.pg_pool", "--calls", "40", "--rounds", "1")
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| find")]
    assert [(r[2].strip(), r[4].strip()) for r in rows] == [("ours", "1.00"), ("baseline", "2.00")]


async def test_the_pacing_bench_runs_both_pacers(
    request: pytest.FixtureRequest,
) -> None:
    out = await bench(
        request,
        "bench.key_pacing",
        "--processes",
        "2",
        "--tasks",
        "2",
        "--rate",
        "10",
        "--seconds",
        "1.5",
    )
    rows = [line.split("|") for line in out.splitlines() if line.startswith(("| ours (", "| base"))]
    # Both granted starts and counted their statements (the ceiling itself is
    # tests/test_key_pacing.py's, at the provider).
    assert [(int(r[2]) > 0, float(r[5]) >= 1.0) for r in rows] == [(True, True)] * 2
