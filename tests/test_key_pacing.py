"""One request ceiling per API key for a fleet of processes over PostgreSQL.

Each "process" here is what a bot process has: its own PostgreSQL pool on the one
database, its own HTTP session and `VideoApi`. They run in one event loop with the
fake provider, which records when each request arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from bot.store import Store
from bot.store.postgres import PostgresDatabase
from bot.videos_api import RateLimited, RetryPolicy, VideoApi, VideoClient
from bot.videos_api.ratelimit import FLEET_SLACK, Clock, Sleep
from tests.conftest import GUILD_A_KEY
from tests.fake_provider import FakeProvider, Fault
from tests.pg_server import PgServer
from tests.test_videos_api import request, settings

RATE = 4
# Waits out a Retry-After of up to 5 s, as the bot does with up to 30 s.
PATIENT = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=5)
# Waits out none: hands the 429 back at once (the pause is recorded by then).
IMPATIENT = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=0.5)


@dataclass
class Server:
    """A database of its own on the test PostgreSQL server (`pg_url`)."""

    url: str
    server: PgServer

    async def drop(self) -> None:
        """Gone, with the processes' pooled connections cut, as when a server dies."""
        await asyncio.to_thread(self.server.drop_database, self.url)


@pytest.fixture
def pg(pg_url: str, pg_server: PgServer) -> Server:
    return Server(pg_url, pg_server)


@dataclass
class Process:
    store: Store
    api: VideoApi

    def client(self, provider: FakeProvider) -> VideoClient:
        guild = settings(provider, GUILD_A_KEY).model_copy(
            update={"max_requests_per_second": float(RATE)}
        )
        return self.api.client_for(guild)


@contextlib.asynccontextmanager
async def process(
    url: str,
    retry: RetryPolicy = PATIENT,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
) -> AsyncIterator[Process]:
    """A bot process's store and video API, as `Storyboard.setup_hook` wires them."""
    store = Store(await PostgresDatabase.open(url))
    try:
        async with aiohttp.ClientSession() as session:
            api = VideoApi(
                session, retry=retry, clock=clock, sleep=sleep, shared_pacing=store.key_pacing()
            )
            yield Process(store, api)
    finally:
        await store.close()


async def spacing_over(p: Process) -> None:
    """Until the key's last start is a whole fleet interval back on the database's
    clock: from then on only a pause can hold the key."""
    left = await p.store.db.fetchval(
        "SELECT max(last_start + ? - extract(epoch FROM clock_timestamp())) FROM key_pacers",
        (1 + FLEET_SLACK) / RATE,
    )
    await asyncio.sleep(max(0.0, left))


def busiest_second(arrivals: list[float]) -> int:
    """The most arrivals in any window [t, t + 1 s): the fullest starts at an arrival."""
    return max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)


async def test_two_processes_sharing_a_key_keep_its_ceiling_together(
    pg: Server, fake_provider: FakeProvider
) -> None:
    """Each process alone would send 4 a second; together they still send at most 4 in
    any second the provider sees. The shared grants are spaced 1.1 / rate on the
    database's clock (`ratelimit.FLEET_SLACK`): the provider's windows hold as long as
    grant-to-arrival delays differ by less than 100 ms, which they do on one machine."""
    fp = fake_provider
    polls, creates = 8, 2
    jobs = [fp.add_job(GUILD_A_KEY) for _ in range(2 * polls)]
    async with process(pg.url) as a, process(pg.url) as b:
        ca, cb = a.client(fp), b.client(fp)
        await asyncio.gather(
            *(ca.retrieve(job.id) for job in jobs[:polls]),
            *(cb.retrieve(job.id) for job in jobs[polls:]),
            *(c.create(request()) for c in (ca, cb) for _ in range(creates)),
        )
    sent = fp.requests
    assert len(sent) == 2 * (polls + creates)
    assert all(r.status == 200 for r in sent)
    assert busiest_second([r.arrived_at for r in sent]) <= RATE


async def test_a_429_to_one_process_pauses_the_key_for_the_other(
    pg: Server, fake_provider: FakeProvider
) -> None:
    fp = fake_provider
    first, second = fp.add_job(GUILD_A_KEY), fp.add_job(GUILD_A_KEY)
    async with process(pg.url, IMPATIENT) as a, process(pg.url, PATIENT) as b:
        fp.inject(Fault(route="retrieve", status=429, retry_after=2))
        with pytest.raises(RateLimited):
            await a.client(fp).retrieve(first.id)  # handed back: longer than A waits
        await spacing_over(b)
        await b.client(fp).retrieve(second.id)  # B waits out A's pause
    refused, answered = fp.requests
    assert (refused.status, refused.path.rsplit("/", 1)[-1]) == (429, first.id)
    assert (answered.status, answered.path.rsplit("/", 1)[-1]) == (200, second.id)
    # The pause began when A read the 429, after the provider received its request; B's
    # turn was granted at the pause's end, before its request arrived.
    assert answered.arrived_at - refused.arrived_at >= 2


async def test_a_long_pause_drawn_by_one_process_is_said_by_the_other_without_a_request(
    pg: Server, fake_provider: FakeProvider
) -> None:
    fp = fake_provider
    first, second = fp.add_job(GUILD_A_KEY), fp.add_job(GUILD_A_KEY)
    async with process(pg.url) as a, process(pg.url) as b:
        fp.inject(Fault(route="retrieve", status=429, retry_after=60))
        with pytest.raises(RateLimited):
            await a.client(fp).retrieve(first.id)
        await spacing_over(b)
        with pytest.raises(RateLimited) as exc:
            await b.client(fp).retrieve(second.id)
        # B learnt it from the fleet: its next caller is refused too, and so is a create.
        with pytest.raises(RateLimited):
            await b.client(fp).create(request())
    assert exc.value.retry_after is not None and 55 < exc.value.retry_after <= 60
    assert [r.status for r in fp.requests] == [429]  # B sent nothing


async def test_only_the_keys_digest_reaches_the_database(
    pg: Server, fake_provider: FakeProvider
) -> None:
    fp = fake_provider
    job = fp.add_job(GUILD_A_KEY)
    async with process(pg.url) as a:
        await a.client(fp).retrieve(job.id)
        fp.inject(Fault(route="retrieve", status=429, retry_after=60))
        with pytest.raises(RateLimited):
            await a.client(fp).retrieve(job.id)
        rows = [dict(row) for row in await a.store.db.fetch("SELECT * FROM key_pacers")]
    [row] = rows
    assert row["key_digest"] == hashlib.sha256(GUILD_A_KEY.encode()).hexdigest()
    assert row["paused_until"] > row["last_start"] > 0
    assert GUILD_A_KEY not in repr(rows)


async def test_while_the_database_is_down_each_process_keeps_its_own_ceiling(
    pg: Server, fake_provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """Requests go on, paced by the process alone (at most one ceiling per process, not a
    flood), and the outage is logged once, not per request."""
    fp = fake_provider
    jobs = [fp.add_job(GUILD_A_KEY) for _ in range(5)]
    clock = [0.0]

    async def sleep(delay: float) -> None:
        clock[0] += delay

    async with process(pg.url, clock=lambda: clock[0], sleep=sleep) as a:
        c = a.client(fp)
        await c.retrieve(jobs[0].id)  # granted by the fleet
        await pg.drop()
        with caplog.at_level(logging.WARNING, logger="bot.videos_api.ratelimit"):
            for job in jobs[1:]:
                await c.retrieve(job.id)
    assert [r.status for r in fp.requests] == [200] * 5
    assert clock[0] == 4 / RATE  # each waited its turn on this process's pacer
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bot.videos_api.ratelimit"]
    assert warning.startswith("shared pacing unavailable")
    assert GUILD_A_KEY not in caplog.text
