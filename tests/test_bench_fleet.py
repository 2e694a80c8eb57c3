"""`python -m bench.fleet` at a tiny size: the one command runs, and every job is delivered
exactly once, by a fleet of two processes over PostgreSQL and by one process on SQLite.

Its figures (latencies, rates) are the benchmark's business and are not checked here; what
is checked is what the fake Discord and the store recorded: each preloaded and each
submitted job posted in its thread once, and marked delivered.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.backends import chosen_backends
from tests.pg_server import ENV_URL, PgServer

ROOT = Path(__file__).resolve().parents[1]
PRELOAD, RATE, SECONDS = 50, 5, 3
SUBMITS = RATE * SECONDS
VARIANTS = {"postgres": "fleet", "sqlite": "baseline"}


async def test_every_job_is_delivered_once_by_the_fleet_and_by_one_process(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    variants = [VARIANTS[b] for b in chosen_backends(request.config)]
    env = dict(os.environ)
    if "fleet" in variants:
        # The session's PostgreSQL, not a server of the bench's own.
        server: PgServer = request.getfixturevalue("pg_server")
        env[ENV_URL] = server.admin_url
    report = tmp_path / "fleet.json"
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.fleet", "--variants", *variants),
        *("--guilds", "20", "--shards", "2", "--processes", "2", "--keys", "4"),
        *("--preload", str(PRELOAD), "--rate", str(RATE), "--seconds", str(SECONDS)),
        # Jobs done within 2 s, looked at every second: all of them delivered in the run.
        *("--job-seconds", "2", "--poll-min", "0.5", "--poll-max", "1"),
        *("--warmup", "0", "--drain", "60", "--until-delivered", "--json", str(report)),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 150)
    assert proc.returncode == 0, stderr.decode(errors="replace")[-3000:]
    summaries = json.loads(report.read_text(encoding="utf-8"))
    assert sorted(s["variant"] for s in summaries) == sorted(variants)
    assert "| variant | submit ack p50 / p99 / max ms |" in stdout.decode()

    for s in summaries:
        members = s["members"]
        assert (members["opened"], members["submitted"]) == (SUBMITS, SUBMITS), s["variant"]
        assert (members["submit_unacked"], members["unanswered"]) == (0, 0), s["variant"]
        # Every preloaded and every submitted job, finished and delivered...
        assert s["jobs"] == PRELOAD + SUBMITS, s["variant"]
        assert s["states"] == {"completed": PRELOAD + SUBMITS}, s["variant"]
        # ...posted in its thread exactly once, and the store says so.
        assert (s["jobs_posted"], s["posts"], s["duplicate_posts"]) == (
            PRELOAD + SUBMITS,
            PRELOAD + SUBMITS,
            0,
        ), s["variant"]
        assert (s["posted_not_marked"], s["marked_not_posted"], s["posted_unknown_job"]) == (
            0,
            0,
            0,
        ), s["variant"]
        assert s["discord_refused"] == {}, s["variant"]
        assert s["refused_creates"] == 0, s["variant"]
