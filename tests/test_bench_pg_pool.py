"""`python -m bench.pg_pool` at a tiny size: the one command runs and prints its table,
with one statement per store call for our pool and two for asyncpg's default (the
figures themselves are the benchmark's business)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.pg_server import ENV_URL, PgServer

ROOT = Path(__file__).resolve().parents[1]


async def test_the_pool_bench_runs_and_counts_one_statement_per_call(
    request: pytest.FixtureRequest,
) -> None:
    server: PgServer = request.getfixturevalue("pg_server")
    env = {**os.environ, ENV_URL: server.admin_url}  # the session's server
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.pg_pool", "--calls", "40", "--rounds", "1"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    rows = [line.split("|") for line in out.decode().splitlines() if line.startswith("| find")]
    assert [(r[2].strip(), r[4].strip()) for r in rows] == [("ours", "1.00"), ("baseline", "2.00")]
