"""Faults: the provider misbehaving, Discord's gateway closing, REST 429s, the bot killed.

After each one: no job lost, none submitted twice, none delivered twice, and the
member told what happened. Each test ends by checking the store (every job in a
final state, delivered), the provider's create count, and what the member saw.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest

from bot.store import Job
from bot.videos_api import client as video_client
from tests.backends import storage_section
from tests.fake_discord import FakeDiscord, RecordedCall
from tests.fake_discord.standard import add_standard_guild
from tests.fake_provider import FakeProvider, Fault
from tests.harness import SEND, World, followup_text
from tests.processes import (
    assert_no_secrets,
    bot_process,
    card_fields,
    channel_videos,
    eventually,
    open_and_submit,
    stop,
    stored_jobs,
    write_process_config,
)

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
FINAL_STATES = ("completed", "failed", "expired", "cancelled")


# -- what the member saw, what the store says ---------------------------------------------


def posts_in(world: World, channel_id: int | None) -> list[RecordedCall]:
    return [c for c in world.fd.calls_to(SEND) if c.params["channel_id"] == str(channel_id)]


def video_posts(world: World, channel_id: int | None) -> list[RecordedCall]:
    """Delivery attempts of a finished video in `channel_id` (calls, not messages)."""
    return [c for c in posts_in(world, channel_id) if c.files]


def videos_in(world: World, channel_id: int | None) -> list[dict[str, Any]]:
    """Messages carrying a video that exist in `channel_id` (what members see)."""
    return channel_videos(world.fd, channel_id or 0)


def card_status(world: World, job: Job) -> str:
    """The Status field of the job card as Discord holds it now."""
    card = world.fd.messages[job.card_message_id or 0]
    fields = {f["name"]: f["value"] for f in card["embeds"][0]["fields"]}
    return str(fields["Status"])


async def delivered(world: World, job_id: int) -> bool:
    return (await world.job(job_id)).delivered_at is not None


async def assert_settled(world: World, *, creates: int) -> list[Job]:
    """Every job final and delivered, each created once at the provider."""
    jobs = await world.jobs()
    for job in jobs:
        assert job.state in FINAL_STATES, job
        assert job.delivered_at is not None, job
    assert len(world.provider.requests_to("create")) == creates
    assert len({j.task_id for j in jobs}) == len(jobs)
    return jobs


async def wait_delivered(world: World, job: Job, within: float = 15.0) -> Job:
    """Wait until the video is in the job's thread and the store says delivered."""
    await world.wait_until(lambda: bool(videos_in(world, job.thread_id)), within=within)
    await world.wait_until(lambda: delivered(world, job.id), within=within)
    return await world.job(job.id)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's own retry backoff, 25 times faster (same doubling, same attempts)."""
    fast = functools.partial(video_client.RetryPolicy, base_delay=0.02, max_delay=0.32)
    monkeypatch.setattr(video_client, "RetryPolicy", fast)


# -- the provider --------------------------------------------------------------------------


async def test_dropped_polls_and_a_truncated_download_still_deliver_once(world: World) -> None:
    job = await world.submitted_job("A lighthouse in a storm.")
    # aiohttp re-sends a GET whose connection dropped once by itself: two drops per attempt.
    world.provider.inject(Fault(route="retrieve", kind="drop", times=4))
    world.provider.inject(Fault(route="content", kind="truncate", times=1))
    world.provider.advance(3600)
    done = await wait_delivered(world, job)

    dropped = [r for r in world.provider.requests_to("retrieve") if r.fault == "drop"]
    assert len(dropped) == 4
    downloads = world.provider.requests_to("content")
    assert [r.fault for r in downloads] == ["truncate", None]
    [post] = video_posts(world, job.thread_id)
    assert post.files[0][1] == world.provider.content_of(job.task_id or "")  # whole, not half
    assert f"<@{world.std.alice.id}> your video #{job.id} is ready" in post.json["content"]
    assert done.state == "completed"
    await assert_settled(world, creates=1)
    await world.wait_until(lambda: card_status(world, job) == "Completed")


async def test_provider_500_for_a_long_stretch_backs_off_then_delivers_once(
    world: World, quick_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    job = await world.submitted_job("A city waking up.")
    attempts = video_client.RetryPolicy().attempts
    faults = 6 * attempts  # six whole polls' worth of 500s (a minute at production pace)
    world.provider.inject(Fault(route="retrieve", kind="status", status=500, times=faults))
    world.provider.advance(3600)
    await wait_delivered(world, job, within=30)

    retrieves = world.provider.requests_to("retrieve")
    failed = [r for r in retrieves if r.status == 500]
    assert len(failed) == faults
    # Recovery is noticed by the next request: nothing polled in vain after the outage.
    first_failed = retrieves.index(failed[0])
    assert len(retrieves) - first_failed <= faults + 2
    # The tracker gave up on a poll only after the client's own retries: one failed
    # tracker step per `attempts` faults, not one per fault.
    steps = [
        r
        for r in caplog.records
        if r.name == "bot.tracker"
        and "poll failed" in r.getMessage()
        and f"job={job.id}" in r.getMessage()
    ]
    assert len(steps) == faults // attempts
    # Within each step the client waited longer before each retry (exponential backoff).
    by_attempt: dict[int, list[float]] = {}
    for r in caplog.records:
        if r.name == "bot.videos_api.client" and r.msg.startswith("provider %s %s failed"):
            args: tuple[Any, ...] = r.args if isinstance(r.args, tuple) else ()
            _, _, key, attempt, delay = args
            assert key == "provider.down"
            by_attempt.setdefault(int(attempt), []).append(float(delay))
    assert sorted(by_attempt) == list(range(1, attempts))
    assert sum(len(d) for d in by_attempt.values()) == faults - len(steps)
    for attempt in range(1, attempts - 1):
        assert max(by_attempt[attempt]) < min(by_attempt[attempt + 1])
    await assert_settled(world, creates=1)
    assert len(video_posts(world, job.thread_id)) == 1
    await world.wait_until(lambda: card_status(world, job) == "Completed")


async def test_a_429_storm_pauses_the_whole_key_as_retry_after_says(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = [await world.submitted_job(f"Scene number {n}.") for n in range(1, 4)]
    # One poll is refused with Retry-After: 5. Retry-After speaks for the key, not the
    # job: no job on that key is asked anything until it has passed.
    storm = world.provider.inject(
        Fault(route="retrieve", kind="status", status=429, retry_after=5, times=1)
    )
    await world.wait_until(lambda: storm.remaining == 0)
    # Polls that had left before the 429 came back may still land; then nothing.
    await asyncio.sleep(0.5)
    since = len(world.provider.requests)
    await asyncio.sleep(1.5)  # well inside the 5 s window
    assert world.provider.requests[since:] == []
    # After the window, every job is followed to the end, each delivered once.
    world.provider.advance(3600)
    for job in jobs:
        await wait_delivered(world, job)
    await assert_settled(world, creates=len(jobs))
    for job in jobs:
        assert len(video_posts(world, job.thread_id)) == 1


async def test_discord_429_on_card_edits_still_ends_on_the_final_state(world: World) -> None:
    job = await world.submitted_job("A paper boat.")
    # discord.py waits out Discord's retry_after and sends the edit again.
    world.fd.fail_next(EDIT, status=429, retry_after=0.1, times=2)
    world.provider.advance(20)
    await world.wait_until(lambda: card_status(world, job).startswith("In progress"))
    world.fd.fail_next(EDIT, status=429, retry_after=0.1, times=2)
    world.provider.advance(3600)
    await wait_delivered(world, job)
    await world.wait_until(lambda: card_status(world, job) == "Completed")
    assert [c.status for c in world.fd.calls_to(EDIT)].count(429) == 4
    await assert_settled(world, creates=1)
    assert len(video_posts(world, job.thread_id)) == 1


async def test_a_card_edit_refused_past_discordpys_retries_is_made_later(world: World) -> None:
    job = await world.submitted_job("A paper plane.")
    # Five 429s in a row: discord.py gives up on this edit and raises.
    world.fd.fail_next(EDIT, status=429, retry_after=0.05, times=5)
    world.provider.advance(3600)
    await wait_delivered(world, job)
    await world.wait_until(lambda: card_status(world, job) == "Completed")
    statuses = [c.status for c in world.fd.calls_to(EDIT)]
    assert statuses[:5] == [429] * 5 and statuses[-1] == 200
    await assert_settled(world, creates=1)
    assert len(video_posts(world, job.thread_id)) == 1


# -- delivery and Discord's nonce -------------------------------------------------------


async def test_the_fake_honours_enforce_nonce_like_discord(world: World) -> None:
    channel = world.bot.get_partial_messageable(world.std.text.id, guild_id=world.std.guild.id)
    first = await channel.send("first", nonce="sb-deliver-77")  # discord.py adds enforce_nonce
    again = await channel.send("second", nonce="sb-deliver-77")
    other = await channel.send("other", nonce="sb-deliver-78")
    assert again.id == first.id
    assert other.id != first.id
    assert [m["content"] for m in world.fd.messages_in(world.std.text)] == ["first", "other"]
    world.fd.advance_clock(10 * 60)  # "the past few minutes" are over
    later = await channel.send("later", nonce="sb-deliver-77")
    assert later.id != first.id


async def test_a_crash_between_posting_and_recording_the_delivery_posts_once(
    world: World,
) -> None:
    job = await world.submitted_job("Delivered, then the bot died.")
    world.provider.advance(3600)
    done = await wait_delivered(world, job)
    [first] = video_posts(world, job.thread_id)
    await world.stop_bot()
    # The crash: the message is in the thread but the store never heard of it.
    await world.sql(
        "UPDATE jobs SET delivered_at = NULL, delivery_message_id = NULL WHERE id = ?", job.id
    )
    assert await world.sql("SELECT delivered_at FROM jobs WHERE id = ?", job.id) == [
        {"delivered_at": None}
    ]
    await world.start_bot()
    await world.wait_until(lambda: delivered(world, job.id))
    # The claim recorded before posting sent the restarted bot to the thread first: it
    # found its own post and recorded that, posting nothing.
    assert video_posts(world, job.thread_id) == [first]
    assert first.json["nonce"] == f"sb-deliver-{job.id}-c"  # the second guard
    assert first.json["enforce_nonce"] is True
    assert len(videos_in(world, job.thread_id)) == 1
    redone = await world.job(job.id)
    assert redone.delivered_at is not None and redone.delivered_at >= (done.delivered_at or 0)
    assert redone.delivery_message_id == int(first.response["id"])
    await assert_settled(world, creates=1)


# -- the Discord gateway -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "resumable", "how"),
    [
        # discord.py RESUMEs after every close but 1000 (its own), 4004 and 4010-4014;
        # Discord refuses the RESUME (op 9) where the session is gone, so it IDENTIFYs.
        (4000, True, "resumed"),  # unknown error
        (4001, True, "resumed"),  # unknown opcode
        (4002, True, "resumed"),  # decode error
        (4003, True, "resumed"),  # not authenticated
        (4005, True, "resumed"),  # already authenticated
        (4007, False, "identified"),  # invalid seq
        (4008, True, "resumed"),  # rate limited
        (4009, False, "identified"),  # session timed out
        (1001, True, "resumed"),  # going away (a Discord restart)
        (None, True, "resumed"),  # the TCP connection dropped, no close frame
    ],
)
async def test_gateway_close_the_bot_comes_back_and_storyboard_works(
    world: World, code: int | None, resumable: bool, how: str
) -> None:
    before = await world.submitted_job("Before the close.")
    assert await world.fd.disconnect_gateway(code, resumable=resumable, timeout=10) == how
    assert world.fd.gateway.log.sessions[-1] == how
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["After the close."])
    assert "is queued" in followup_text(sub)
    after = (await world.jobs())[-1]
    world.provider.advance(3600)
    await wait_delivered(world, before)
    await wait_delivered(world, after)
    await assert_settled(world, creates=2)


@pytest.mark.parametrize("code", [4010, 4011, 4012, 4013])
async def test_a_fatal_gateway_close_closes_the_client(
    world: World, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    # (4004 and 4014, which discord.py raises without closing, run as a process below.)
    sessions = len(world.fd.gateway.log.sessions)
    await world.fd.disconnect_gateway(code, resumable=False, wait=False)
    await world.wait_until(world.bot.is_closed)
    assert len(world.fd.gateway.log.sessions) == sessions  # no RESUME, no new IDENTIFY
    assert not world.fd.gateway.connected
    assert not world.fd.gateway.log.resumes
    logs = caplog.text
    for secret in world.secrets:
        assert secret not in logs


async def test_a_ready_discordpy_dispatches_after_the_stop_is_dropped(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """discord.py dispatches READY 2 s after the last GUILD_CREATE, from a task its close
    does not cancel; its close ends by unsetting the client's loop. A stop within those
    2 s (a short test, a SIGTERM just after the start) saw that READY come after the
    close: the dispatch failed on the missing loop, in a task nobody awaited, and left
    "coroutine 'Client._run_event' was never awaited" (seen once under CPU load)."""
    bot = world.bot
    await world.stop_bot()
    since = len(caplog.records)
    bot.dispatch("ready")  # what discord.py's ready wait does when it ends after the stop
    await asyncio.sleep(0)
    said = [r.getMessage() for r in caplog.records[since:] if r.name == "bot.bot"]
    assert not [line for line in said if line.startswith("connected as")]


# -- the bot as a process: killed, restarted (tests/processes.py) ---------------------


async def test_sigkill_while_the_create_is_in_flight_finds_the_job_by_its_metadata(
    fake_discord: FakeDiscord, fake_provider: FakeProvider, tmp_path: Path, store_backend: str
) -> None:
    fd, fp = fake_discord, fake_provider
    std = add_standard_guild(fd)
    config, storage = (
        tmp_path / "config.toml",
        storage_section(store_backend, tmp_path, "storage.sqlite3"),
    )
    write_process_config(config, fp, storage)
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    async with bot_process(fd, config, first) as proc:
        fp.inject(Fault(route="create", kind="slow", delay=1.0))
        await open_and_submit(fd, std.guild, std.text, std.alice, "A lighthouse at night.")
        await eventually(lambda: fp.requests_to("create"), what="the create reached the provider")
        proc.kill()  # SIGKILL: no drain, no goodbye
    [row] = stored_jobs(storage)
    assert (row["state"], row["task_id"], row["card_message_id"]) == ("pending", None, None)
    # The provider carries the create out though nobody waits for the answer any more.
    await eventually(lambda: fp.jobs, what="the provider made the job")
    [task_id] = fp.jobs
    fp.advance(3600)
    async with bot_process(fd, config, second) as proc:
        # No card was ever posted: it is posted now, and the video follows it in the
        # channel the member asked in.
        await eventually(lambda: channel_videos(fd, std.text.id), what="delivery")
        await eventually(lambda: stored_jobs(storage)[0]["delivered_at"] is not None)
        await eventually(lambda: card_fields(fd, stored_jobs(storage)[0])["Status"] == "Completed")
        await stop(proc)
    [row] = stored_jobs(storage)
    assert (row["state"], row["task_id"]) == ("completed", task_id)
    card = fd.messages[row["card_message_id"]]["embeds"][0]
    assert card["footer"]["text"] == f"Video #{row['id']}"  # the task id is in Details
    assert fd.messages[row["card_message_id"]]["channel_id"] == str(std.text.id)
    [video] = channel_videos(fd, std.text.id)
    assert video["content"].startswith(f"<@{std.alice.id}> your video #{row['id']} is ready")
    assert len(fp.requests_to("create")) == 1
    assert [r.path for r in fp.requests_to("list")]  # found by its metadata echo
    assert_no_secrets(fd, first, second)


async def test_sigkill_before_the_create_left_marks_the_job_uncertain_and_says_so(
    fake_discord: FakeDiscord, fake_provider: FakeProvider, tmp_path: Path, store_backend: str
) -> None:
    fd, fp = fake_discord, fake_provider
    std = add_standard_guild(fd)
    config, storage = (
        tmp_path / "config.toml",
        storage_section(store_backend, tmp_path, "storage.sqlite3"),
    )
    # One request per 5 s for the key: the second create waits its turn inside the bot.
    write_process_config(config, fp, storage, rate=0.2)
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    async with bot_process(fd, config, first) as proc:
        # A refusal proves nothing was created (a 5xx would not: that is "uncertain").
        fp.inject(Fault(route="create", kind="status", status=422))
        refused = await open_and_submit(fd, std.guild, std.text, std.alice, "The first try.")
        await eventually(
            lambda: "The video service refused the request" in followup_text(refused),
            what="refusal",
        )
        await open_and_submit(fd, std.guild, std.text, std.alice, "The second try.")
        await eventually(lambda: len(stored_jobs(storage)) == 2, what="the second job stored")
        proc.kill()
    assert len(fp.requests_to("create")) == 1  # the second never left the bot
    assert [r["state"] for r in stored_jobs(storage)] == ["submit_failed", "pending"]
    write_process_config(config, fp, storage)
    async with bot_process(fd, config, second) as proc:
        await eventually(lambda: stored_jobs(storage)[1]["state"] == "uncertain", what="uncertain")
        # The member is told: the job's card, in the channel they asked in.
        await eventually(
            lambda: stored_jobs(storage)[1]["card_message_id"] is not None, what="card"
        )
        await stop(proc)
    job = stored_jobs(storage)[1]
    card = fd.messages[job["card_message_id"]]
    assert card["channel_id"] == str(std.text.id)
    assert card["embeds"][0]["description"].endswith("The second try.")
    fields = card_fields(fd, job)
    assert fields["Status"] == "Not confirmed yet: asking the video service whether it started"
    assert fields["Requested by"] == f"<@{std.alice.id}>"
    # While the bot still looks for it, nothing on the card can pay again.
    buttons = [b["custom_id"] for row in card["components"] for b in row["components"]]
    assert buttons == [f"sb:details:{job['id']}"]
    assert len(fp.requests_to("create")) == 1  # never sent behind the member's back
    assert_no_secrets(fd, first, second)


async def test_sigkill_mid_download_delivers_once_after_the_restart(
    fake_discord: FakeDiscord, fake_provider: FakeProvider, tmp_path: Path, store_backend: str
) -> None:
    fd, fp = fake_discord, fake_provider
    std = add_standard_guild(fd)
    config, storage = (
        tmp_path / "config.toml",
        storage_section(store_backend, tmp_path, "storage.sqlite3"),
    )
    write_process_config(config, fp, storage)
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    async with bot_process(fd, config, first) as proc:
        sub = await open_and_submit(fd, std.guild, std.text, std.alice, "A slow download.")
        await eventually(lambda: "is queued" in followup_text(sub), what="the member's answer")
        fp.inject(Fault(route="content", kind="slow", delay=2.0))
        fp.advance(3600)
        await eventually(lambda: fp.requests_to("content"), what="the download began")
        proc.kill()
    [row] = stored_jobs(storage)
    assert (row["state"], row["delivered_at"]) == ("completed", None)
    thread_id = row["thread_id"]
    async with bot_process(fd, config, second) as proc:
        await eventually(
            lambda: stored_jobs(storage)[0]["delivered_at"] is not None, what="delivered"
        )
        await stop(proc)
    [video] = channel_videos(fd, thread_id)
    assert video["content"].startswith(f"<@{std.alice.id}> your video #{row['id']} is ready")
    posts = [c for c in fd.calls_to(SEND) if c.params["channel_id"] == str(thread_id) and c.files]
    assert len(posts) == 1
    assert len(fp.requests_to("content")) == 2
    assert len(fp.requests_to("create")) == 1
    assert_no_secrets(fd, first, second)


@pytest.mark.parametrize("code", [4004, 4014])
async def test_a_fatal_gateway_close_stops_the_process_with_the_reason_logged(
    fake_discord: FakeDiscord,
    fake_provider: FakeProvider,
    tmp_path: Path,
    code: int,
    store_backend: str,
) -> None:
    fd = fake_discord
    add_standard_guild(fd)
    config, log = tmp_path / "config.toml", tmp_path / "bot.log"
    write_process_config(config, fake_provider, storage_section(store_backend, tmp_path))
    async with bot_process(fd, config, log) as proc:
        await fd.disconnect_gateway(code, resumable=False, wait=False)
        returncode = await asyncio.wait_for(proc.wait(), 30)
    text = log.read_text(encoding="utf-8")
    assert returncode != 0, text
    reason = {4004: "WebSocket closed with 4004", 4014: "PrivilegedIntentsRequired"}[code]
    assert reason in text
    assert len(fd.gateway.log.identifies) == 1  # it did not try again with a dead token
    assert_no_secrets(fd, log)
