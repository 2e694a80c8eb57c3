"""The video API client against the fake provider, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import pytest
import pytest_asyncio
from multidict import CIMultiDict
from pydantic import SecretStr, ValidationError

from bot.config import DefaultsSection, GuildSettings
from bot.errors import StoryboardError
from bot.profiles import OPENAI, RELAY, ProviderProfile
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.videos_api import (
    TERMINAL_STATUSES,
    AuthFailed,
    ContentTooLarge,
    CreateVideoRequest,
    NotFound,
    NotSupported,
    ProviderDown,
    ProviderTimeout,
    RateLimited,
    ReferenceImage,
    Rejected,
    RetryPolicy,
    SubmissionUnknown,
    VideoApi,
    VideoClient,
    VideoJob,
    key_fingerprint,
    normalize_status,
    ratelimit,
)
from bot.videos_api.client import SeenIds, _request_key_of, _retry_after
from bot.videos_api.ratelimit import RequestPacer
from tests.conftest import GUILD_A_KEY, GUILD_B_KEY
from tests.fake_provider import FakeProvider, Fault, html_error_page, newapi_error_body

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=5)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def settings(
    provider: FakeProvider, key: str | None, profile: ProviderProfile = RELAY
) -> GuildSettings:
    return GuildSettings(
        guild_id=1,
        api_key=SecretStr(key) if key else None,
        base_url=provider.base_url,
        profile=profile,
        models=("sora-2", "sora-2-pro"),
        max_seconds=None,
        defaults=DefaultsSection(),
        timeout_seconds=2.0,
        max_requests_per_second=100.0,
        image_max_bytes=10 * 1024 * 1024,
    )


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def client(
    session: aiohttp.ClientSession,
    provider: FakeProvider,
    key: str = GUILD_A_KEY,
    profile: ProviderProfile = RELAY,
    timeout: float = 2.0,
    pacer: RequestPacer | None = None,
    retry: RetryPolicy = FAST,
) -> VideoClient:
    return VideoClient(
        session,
        base_url=provider.base_url,
        api_key=SecretStr(key),
        profile=profile,
        timeout_seconds=timeout,
        pacer=pacer or RequestPacer(1000),
        retry=retry,
    )


def request(
    profile: ProviderProfile = RELAY, seconds: int = 15, image: ReferenceImage | None = None
) -> CreateVideoRequest:
    board = Storyboard(
        shots=(Shot(scene="The fridge door opens."), Shot(scene="A purple monster comes out.")),
        settings=StoryboardSettings(model="sora-2", seconds=seconds, watermark=False),
    )
    valid = validate_storyboard(board, profile, models=["sora-2"])
    return CreateVideoRequest.from_storyboard(
        valid, profile, image=image, metadata='{"storyboard_job": 7}' if profile is RELAY else None
    )


async def test_create_sends_a_request_the_contract_accepts(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    job = await client(session, fake_provider).create(request())
    assert job.status == "queued"
    assert job.id.startswith("sora-2:task_")
    [sent] = fake_provider.requests
    assert sent.valid, sent.errors
    assert sent.content_type == "multipart/form-data"
    assert sent.key == GUILD_A_KEY
    assert sent.fields == {
        "model": "sora-2",
        "prompt": "Shot 1:\nduration: 8sec\nScene: The fridge door opens.\n\n"
        "Shot 2:\nduration: 7sec\nScene: A purple monster comes out.",
        "seconds": "15",
        "size": "1280x720",
        "watermark": "false",
        "private": "false",
        "metadata": '{"storyboard_job": 7}',
    }
    assert sent.files == {}


async def test_the_image_goes_as_input_reference_with_its_real_type(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    image = ReferenceImage(filename="ref.png", content_type="image/png", data=PNG)
    await client(session, fake_provider).create(request(image=image))
    [sent] = fake_provider.requests
    assert sent.valid, sent.errors
    ref = sent.files["input_reference"]
    assert (ref.filename, ref.content_type, ref.data) == ("ref.png", "image/png", PNG)


async def test_openai_profile_sends_only_official_fields(
    session: aiohttp.ClientSession, fake_openai_provider: FakeProvider
) -> None:
    job = await client(session, fake_openai_provider, profile=OPENAI).create(
        request(OPENAI, seconds=8)
    )
    [sent] = fake_openai_provider.requests
    assert sent.valid, sent.errors
    assert set(sent.fields) == {"model", "prompt", "seconds", "size"}
    assert job.seconds == "8"


def test_a_relay_only_field_is_refused_before_sending_on_openai() -> None:
    with pytest.raises(NotSupported):
        CreateVideoRequest(model="sora-2", prompt="x", watermark=True).form_fields(OPENAI)


async def test_wrong_key_is_auth_failed(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    with pytest.raises(AuthFailed) as exc:
        await client(session, fake_provider, key="sk-wrong").create(request())
    assert exc.value.status == 401
    assert len(fake_provider.jobs) == 0


async def test_provider_refusal_carries_its_message_and_param(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    bad = CreateVideoRequest(
        model="sora-2", prompt="Shot 1:\nduration: 25sec\nScene: x", seconds=25
    )
    with pytest.raises(Rejected) as exc:
        await client(session, fake_provider).create(bad)
    assert exc.value.status == 400
    assert exc.value.param == "seconds"
    assert exc.value.message


async def test_create_retries_a_short_429_and_makes_one_job(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    fake_provider.inject(Fault(route="create", kind="status", status=429, retry_after=0))
    job = await client(session, fake_provider).create(request())
    assert [r.status for r in fake_provider.requests] == [429, 200]
    assert list(fake_provider.jobs) == [job.id]


async def test_create_gives_back_a_long_429_with_the_wait(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    fake_provider.inject(Fault(route="create", kind="status", status=429, retry_after=120))
    with pytest.raises(RateLimited) as exc:
        await client(session, fake_provider).create(request())
    assert exc.value.retry_after == 120
    assert exc.value.fields == {"wait": 120}
    assert len(fake_provider.requests) == 1


async def test_create_does_not_resend_after_a_500_and_does_not_call_it_a_no(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    # Was `ProviderDown` ("not created"): a 5xx proves nothing about a create.
    fake_provider.inject(Fault(route="create", kind="status", status=500))
    with pytest.raises(SubmissionUnknown) as exc:
        await client(session, fake_provider).create(request())
    assert (exc.value.detail, exc.value.status) == ("HTTP 500", 500)
    assert len(fake_provider.requests) == 1


@pytest.mark.parametrize("kind", ["drop_after_read", "bad_json"])
async def test_create_that_may_have_arrived_is_never_resent(
    session: aiohttp.ClientSession, fake_provider: FakeProvider, kind: str
) -> None:
    fake_provider.inject(Fault(route="create", kind=kind))  # type: ignore[arg-type]
    with pytest.raises(SubmissionUnknown):
        await client(session, fake_provider).create(request())
    assert len(fake_provider.requests_to("create")) == 1
    assert len(fake_provider.jobs) == 1  # it did reach the provider


async def test_create_timing_out_is_uncertain_not_resent(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    fake_provider.inject(Fault(route="create", kind="slow", delay=1.0))
    with pytest.raises(SubmissionUnknown):
        await client(session, fake_provider, timeout=0.2).create(request())
    assert len(fake_provider.requests_to("create")) == 1


async def test_create_with_the_provider_unreachable_is_provider_down(
    session: aiohttp.ClientSession,
) -> None:
    dead = VideoClient(
        session,
        base_url="http://127.0.0.1:9/v1",
        api_key=SecretStr("sk"),
        profile=RELAY,
        timeout_seconds=1,
        pacer=RequestPacer(1000),
        retry=FAST,
    )
    with pytest.raises(ProviderDown):
        await dead.create(request())


@pytest.mark.parametrize(
    "fault",
    [
        Fault(route="retrieve", kind="status", status=500),
        Fault(route="retrieve", kind="status", status=503),
        Fault(route="retrieve", kind="status", status=429, retry_after=0),
        Fault(route="retrieve", kind="bad_json"),
        Fault(route="retrieve", kind="drop", times=2),
    ],
    ids=["500", "503", "429", "bad_json", "drop"],
)
async def test_retrieve_recovers_from_passing_faults(
    session: aiohttp.ClientSession, fake_provider: FakeProvider, fault: Fault
) -> None:
    c = client(session, fake_provider)
    job = await c.create(request())
    fake_provider.inject(fault)
    again = await c.retrieve(job.id)
    assert again.id == job.id
    assert fake_provider.requests_to("retrieve")[-1].fault is None


async def test_retrieve_gives_up_after_the_policy_and_says_why(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    c = client(session, fake_provider)
    job = await c.create(request())
    fake_provider.inject(Fault(route="retrieve", kind="status", status=502, times=10))
    with pytest.raises(ProviderDown) as exc:
        await c.retrieve(job.id)
    assert exc.value.status == 502
    assert len(fake_provider.requests_to("retrieve")) == FAST.attempts


async def test_retrieve_timeout_is_provider_timeout(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    c = client(session, fake_provider, timeout=0.2)
    job = await c.create(request())
    fake_provider.inject(Fault(route="retrieve", kind="slow", delay=1.0, times=10))
    with pytest.raises(ProviderTimeout):
        await c.retrieve(job.id)


async def test_job_moves_and_content_streams_to_a_file(
    session: aiohttp.ClientSession, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    c = client(session, fake_provider)
    job = await c.create(request())
    fake_provider.advance(10)
    running = await c.retrieve(job.id)
    assert running.status == "in_progress"
    fake_provider.advance(120)
    done = await c.retrieve(job.id)
    assert (done.status, done.progress, done.is_terminal) == ("completed", 100, True)
    dest = tmp_path / "video.mp4"
    fake_provider.inject(Fault(route="content", kind="truncate"))
    size = await c.download_content(job.id, dest, max_bytes=10 * 1024 * 1024)
    assert dest.read_bytes() == fake_provider.content_of(job.id)
    assert size == dest.stat().st_size


async def test_content_over_the_limit_is_refused_and_leaves_no_file(
    session: aiohttp.ClientSession, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    c = client(session, fake_provider)
    job = await c.create(request())
    fake_provider.advance(3600)
    dest = tmp_path / "video.mp4"
    with pytest.raises(ContentTooLarge):
        await c.download_content(job.id, dest, max_bytes=1000)
    assert not dest.exists()


async def test_failed_job_carries_the_providers_reason(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    c = client(session, fake_provider)
    fake_provider.set_outcome(
        None, "fail", code="content_policy", message="Real people are not allowed"
    )
    job = await c.create(request())
    fake_provider.advance(3600)
    failed = await c.retrieve(job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.message == "Real people are not allowed"


async def test_each_guild_uses_its_own_key_and_a_guild_without_one_cannot(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    api = VideoApi(session, retry=FAST)
    await api.client_for(settings(fake_provider, GUILD_A_KEY)).create(request())
    await api.client_for(settings(fake_provider, GUILD_B_KEY)).create(request())
    assert [r.key for r in fake_provider.requests] == [GUILD_A_KEY, GUILD_B_KEY]
    with pytest.raises(StoryboardError) as exc:
        api.client_for(settings(fake_provider, None))
    assert exc.value.key == "guild.no_key"


async def test_remix_where_the_profile_has_it(
    session: aiohttp.ClientSession, fake_provider: FakeProvider, fake_openai_provider: FakeProvider
) -> None:
    with pytest.raises(NotSupported):
        await client(session, fake_provider).remix("sora-2:task_x", "again")
    c = client(session, fake_openai_provider, profile=OPENAI)
    job = await c.create(request(OPENAI, seconds=8))
    fake_openai_provider.advance(3600)
    remixed = await c.remix(job.id, "make it night")
    assert remixed.remixed_from_video_id == job.id


async def test_ping_proves_the_key(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    await client(session, fake_provider).ping()
    with pytest.raises(AuthFailed):
        await client(session, fake_provider, key="sk-nope").ping()


async def test_pacer_spaces_request_starts_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    starts: list[float] = []

    async def fake_sleep(delay: float) -> None:
        clock[0] += delay

    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(ratelimit.asyncio, "sleep", fake_sleep)
    registry = ratelimit.PacerRegistry()
    pacer = registry.for_key("sk-a", 4.0)
    assert registry.for_key("sk-a", 4.0) is pacer
    assert registry.for_key("sk-b", 4.0) is not pacer
    for _ in range(5):
        await pacer.wait()
        starts.append(clock[0])
    assert [round(b - a, 3) for a, b in itertools.pairwise(starts)] == [0.25] * 4
    # After a stall, the overdue caller goes at once, and the next waits a full interval again.
    clock[0] += 5.0
    await pacer.wait()
    stalled = clock[0]
    await pacer.wait()
    assert (stalled, round(clock[0] - stalled, 3)) == (starts[-1] + 5.0, 0.25)


async def test_keys_never_appear_in_errors_or_reprs(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    c = client(session, fake_provider, key="sk-very-secret-key-123")
    with pytest.raises(AuthFailed) as exc:
        await c.create(request())
    assert "sk-very-secret" not in repr(exc.value) + str(exc.value) + repr(exc.value.fields)
    assert "sk-very-secret" not in repr(settings(fake_provider, "sk-very-secret-key-123"))


async def test_a_provider_message_quoting_our_key_is_scrubbed(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    body = {
        "error": {"message": f"key {GUILD_A_KEY} has no access to sora-2-pro", "param": "model"}
    }
    fake_provider.inject(Fault(route="create", kind="status", status=400, body=body))
    with pytest.raises(Rejected) as exc:
        await client(session, fake_provider).create(request())
    assert exc.value.message == "key **** has no access to sora-2-pro"
    assert GUILD_A_KEY not in repr(exc.value.fields)


# -- a 5xx on create is not a "no" --------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520, 522, 524, 526, 408, 499])
async def test_a_create_answered_5xx_408_or_499_is_unknown_and_never_resent(
    session: aiohttp.ClientSession, fake_provider: FakeProvider, status: int
) -> None:
    page = html_error_page(status, "A timeout occurred")
    fake_provider.inject(
        Fault(
            route="create",
            kind="accept_then_status",
            status=status,
            body=page,
            content_type="text/html",
        )
    )
    with pytest.raises(SubmissionUnknown) as exc:
        await client(session, fake_provider).create(request())
    assert (exc.value.detail, exc.value.status) == (f"HTTP {status}", status)
    assert exc.value.message == f"api.example.com | {status}: A timeout occurred"
    assert len(fake_provider.requests_to("create")) == 1
    assert len(fake_provider.jobs) == 1  # the relay did take it


async def test_a_remix_answered_502_is_unknown(
    session: aiohttp.ClientSession, fake_openai_provider: FakeProvider
) -> None:
    c = client(session, fake_openai_provider, profile=OPENAI)
    job = await c.create(request(OPENAI, seconds=8))
    fake_openai_provider.advance(3600)
    fake_openai_provider.inject(Fault(route="remix", kind="accept_then_status", status=502))
    with pytest.raises(SubmissionUnknown) as exc:
        await c.remix(job.id, "make it night")
    assert exc.value.detail == "HTTP 502"
    assert len(fake_openai_provider.requests_to("remix")) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, Rejected),
        (401, AuthFailed),
        (403, AuthFailed),
        (404, NotFound),
        (409, Rejected),
        (413, Rejected),
        (422, Rejected),
    ],
)
async def test_a_create_refused_with_a_4xx_is_a_no(
    session: aiohttp.ClientSession,
    fake_provider: FakeProvider,
    status: int,
    error: type[Exception],
) -> None:
    fake_provider.inject(Fault(route="create", kind="status", status=status))
    with pytest.raises(error) as exc:
        await client(session, fake_provider).create(request())
    assert type(exc.value) is error
    assert len(fake_provider.requests_to("create")) == 1
    assert fake_provider.jobs == {}


async def test_a_create_cut_off_after_sending_names_what_happened(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    fake_provider.inject(Fault(route="create", kind="drop_after_read"))
    with pytest.raises(SubmissionUnknown) as exc:
        await client(session, fake_provider).create(request())
    assert exc.value.detail == "ServerDisconnectedError"
    fake_provider.inject(Fault(route="create", kind="bad_json"))
    with pytest.raises(SubmissionUnknown) as exc:
        await client(session, fake_provider).create(request())
    assert (exc.value.detail, exc.value.status) == ("unreadable answer", 200)


# -- status words ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[
            (w, ("queued", True))
            for w in (
                "queued",
                "pending",
                "submitted",
                "not_start",
                "preparing",
                "unknown",
                "created",
                "starting",
            )
        ],
        *[
            (w, ("in_progress", True))
            for w in ("processing", "in_progress", "running", "generating")
        ],
        *[
            (w, ("completed", True))
            for w in ("completed", "complete", "success", "succeeded", "finished")
        ],
        *[(w, ("failed", True)) for w in ("failed", "failure", "fail", "error", "expired")],
        ("cancelled", ("cancelled", True)),
        ("canceled", ("cancelled", True)),
        ("  SUCCEEDED\n", ("completed", True)),
        ("Not_Start", ("queued", True)),
        ("rendering", ("in_progress", False)),
        ("", ("in_progress", False)),
    ],
)
def test_normalize_status(raw: str, expected: tuple[str, bool]) -> None:
    assert normalize_status(raw) == expected


def test_a_video_keeps_the_providers_word_and_the_normalized_status() -> None:
    job = VideoJob.model_validate({"id": "t", "status": "Succeeded"})
    assert (job.status, job.raw_status, job.status_known, job.is_terminal) == (
        "completed",
        "Succeeded",
        True,
        True,
    )
    odd = VideoJob.model_validate({"id": "t", "status": "rendering"})
    assert (odd.status, odd.raw_status, odd.status_known, odd.is_terminal) == (
        "in_progress",
        "rendering",
        False,
        False,
    )
    # A stored answer read back is the same job.
    assert VideoJob.model_validate_json(job.model_dump_json()) == job
    assert {"completed", "failed", "cancelled"} == TERMINAL_STATUSES


async def test_a_relays_own_status_words_are_understood(
    session: aiohttp.ClientSession,
) -> None:
    names = {"completed": "succeeded", "in_progress": "running", "queued": "not_start"}
    async with FakeProvider(keys={GUILD_A_KEY}, status_names=names) as fp:
        c = client(session, fp)
        job = await c.create(request())
        assert (job.status, job.raw_status) == ("queued", "not_start")
        fp.advance(10)
        assert (await c.retrieve(job.id)).status == "in_progress"
        fp.advance(3600)
        done = await c.retrieve(job.id)
        assert (done.status, done.raw_status, done.is_terminal) == ("completed", "succeeded", True)
        fp.set_status(job.id, "error")
        assert (await c.retrieve(job.id)).status == "failed"


async def test_an_unknown_status_is_logged_once_per_task(
    session: aiohttp.ClientSession,
    fake_provider: FakeProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = client(session, fake_provider)
    one, two = await c.create(request()), await c.create(request())
    fake_provider.set_status(one.id, "rendering")
    fake_provider.set_status(two.id, "rendering")
    with caplog.at_level("WARNING", logger="bot.videos_api.client"):
        for _ in range(3):
            assert (await c.retrieve(one.id)).status == "in_progress"
        await c.retrieve(two.id)
    warned = [r.getMessage() for r in caplog.records if "unknown provider status" in r.getMessage()]
    assert warned == [
        f"task_id={one.id} unknown provider status 'rendering'; treated as in_progress",
        f"task_id={two.id} unknown provider status 'rendering'; treated as in_progress",
    ]


def test_the_ids_remembered_for_unknown_statuses_are_bounded() -> None:
    seen = SeenIds(size=3)
    assert [seen.add(i) for i in ("a", "b", "c", "a", "d")] == [True, True, True, False, True]
    assert len(seen) == 3
    assert seen.add("b") is True  # the oldest was forgotten


# -- answer shapes ----------------------------------------------------------------


async def test_task_id_answers_and_the_data_envelope_are_read(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeProvider(keys={GUILD_A_KEY}, task_id_only=True, wrap_data=True) as fp:
        c = client(session, fp)
        job = await c.create(request())
        assert job.id in fp.jobs
        assert (await c.retrieve(job.id)).id == job.id


def test_the_data_envelope_is_used_only_when_the_top_level_is_not_a_video() -> None:
    wrapped = {"code": "success", "message": "", "data": {"task_id": "task_1", "status": "queued"}}
    assert VideoJob.model_validate(wrapped).id == "task_1"
    top = VideoJob.model_validate(
        {"id": "v", "status": "queued", "data": {"id": "x", "status": "y"}}
    )
    assert top.id == "v"
    with pytest.raises(ValidationError):
        VideoJob.model_validate({"code": "success", "data": {"note": "no video here"}})


# -- the provider's sentence ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            {"error": {"message": "Bad size", "type": "invalid_request_error", "param": "size"}},
            "application/json",
            ("Bad size", "size", None),
        ),
        (
            {"code": "task_failed", "message": "当前分组上游负载已饱和，请稍后再试", "data": None},
            "application/json",
            ("当前分组上游负载已饱和，请稍后再试", None, "task_failed"),
        ),
        ({"error": "model not found"}, "application/json", ("model not found", None, None)),
        (
            {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "Too long."},
            "application/problem+json",
            ("Too long.", None, None),
        ),
        (
            {"type": "about:blank", "title": "Bad Request", "status": 400},
            "application/problem+json",
            ("Bad Request", None, None),
        ),
        ({"msg": "quota exceeded"}, "application/json", ("quota exceeded", None, None)),
        ({"detail": "Not authenticated"}, "application/json", ("Not authenticated", None, None)),
        (
            {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]},
            "application/json",
            ("field required", None, None),
        ),
        ("  upstream\n\n  connect   error ", "text/plain", ("upstream connect error", None, None)),
        (
            "<html><body><h1>400 Bad   Request</h1><p>Try&nbsp;again</p></body></html>",
            "text/html",
            ("400 Bad Request Try again", None, None),
        ),
        ({"foo": {"bar": 1}}, "application/json", ("HTTP 400 without a reason", None, None)),
        ("", "text/plain", ("HTTP 400 without a reason", None, None)),
        ('{"error": {"mess', "application/json", ("HTTP 400 without a reason", None, None)),
    ],
    ids=[
        "openai",
        "new-api",
        "error-string",
        "problem-detail",
        "problem-title",
        "msg",
        "fastapi",
        "fastapi-list",
        "text",
        "html",
        "unknown-json",
        "empty",
        "broken-json",
    ],
)
async def test_error_bodies_give_the_providers_sentence(
    session: aiohttp.ClientSession,
    fake_provider: FakeProvider,
    body: dict[str, Any] | str,
    content_type: str,
    expected: tuple[str, str | None, str | None],
) -> None:
    fake_provider.inject(
        Fault(route="create", kind="status", status=400, body=body, content_type=content_type)
    )
    with pytest.raises(Rejected) as exc:
        await client(session, fake_provider).create(request())
    assert (exc.value.message, exc.value.param, exc.value.code) == expected
    assert "{" not in exc.value.message


async def test_a_long_reason_is_cut_at_a_word_and_a_key_at_the_cut_is_still_scrubbed(
    session: aiohttp.ClientSession,
) -> None:
    key = "sk-guild-a-0123456789abcdef"
    # The key straddles character 500 of the message: cut first, it would survive in part.
    message = "word " * 98 + "ab " + key + " and more" * 300
    body = {"error": {"message": message}}
    async with FakeProvider(keys={key}) as fp:
        fp.inject(Fault(route="create", kind="status", status=400, body=body))
        with pytest.raises(Rejected) as exc:
            await client(session, fp, key=key).create(request())
    text = exc.value.message
    assert len(text) <= 500 and text.endswith("…")
    assert key[:6] not in text
    assert text == "word " * 98 + "ab ****…"
    assert key[:6] not in repr(exc.value.fields)


async def test_every_typed_error_carries_the_scrubbed_sentence(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    c = client(session, fake_provider)
    job = await c.create(request())
    said = f"key {GUILD_A_KEY} is over its quota"
    fake_provider.inject(
        Fault(route="retrieve", status=502, body=newapi_error_body(said), times=FAST.attempts)
    )
    with pytest.raises(ProviderDown) as down:
        await c.retrieve(job.id)
    fake_provider.inject(Fault(route="retrieve", status=429, retry_after=120, body=said))
    with pytest.raises(RateLimited) as limited:
        await c.retrieve(job.id)
    fake_provider.inject(Fault(route="create", kind="accept_then_status", status=504, body=said))
    with pytest.raises(SubmissionUnknown) as unknown:
        await client(session, fake_provider, key=GUILD_A_KEY).create(request())
    fake_provider.inject(Fault(route="retrieve", status=404, body={"detail": said}))
    with pytest.raises(NotFound) as missing:
        await client(session, fake_provider).retrieve(job.id)
    for error in (down, limited, unknown, missing):
        assert error.value.message == "key **** is over its quota", error


# -- Retry-After and the key's pause ------------------------------------------------


NOW = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": " 2.5 "}, 2.5),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "Tue, 01 Dec 2026 12:01:30 GMT"}, 90.0),
        ({"Retry-After": "Tue, 01 Dec 2026 11:00:00 GMT"}, 0.0),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"retry-after-ms": "nan", "Retry-After": "9"}, 9.0),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "-5"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "1e9"}, None),
        ({"Retry-After": "Fri, 01 Dec 2034 12:00:00 GMT"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert _retry_after(CIMultiDict(headers), now=lambda: NOW) == expected


async def test_a_pause_holds_every_caller_of_the_key_and_only_grows() -> None:
    clock = [0.0]

    async def sleep(delay: float) -> None:
        clock[0] += delay

    pacer = RequestPacer(10, clock=lambda: clock[0], sleep=sleep)
    await pacer.pause(5)
    await pacer.pause(2)  # never shortens
    for bad in (math.inf, math.nan, -1.0, 0.0):
        await pacer.pause(bad)
    assert pacer.paused_for() == 5
    await pacer.wait()
    assert clock[0] == 5
    await pacer.wait()
    assert clock[0] == pytest.approx(5.1)  # then spaced as usual
    assert pacer.paused_for() == 0


async def test_a_429_pauses_the_key_and_a_long_pause_is_reported_without_a_request(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    pacer = RequestPacer(1000)
    first = client(session, fake_provider, pacer=pacer)
    job = await first.create(request())
    fake_provider.inject(Fault(route="retrieve", status=429, retry_after=100_000))  # absurd
    with pytest.raises(RateLimited) as exc:
        await first.retrieve(job.id)
    assert exc.value.retry_after is None  # unusable: the fallback pause applies
    assert 29 < pacer.paused_for() <= 30
    fake_provider.inject(Fault(route="retrieve", status=429, retry_after=3600))
    pacer = RequestPacer(1000)
    with pytest.raises(RateLimited) as exc:
        await client(session, fake_provider, pacer=pacer).retrieve(job.id)
    assert exc.value.retry_after == 600  # capped
    before = len(fake_provider.requests)
    other = client(session, fake_provider, pacer=pacer)  # another job, the same key
    with pytest.raises(RateLimited) as exc:
        await other.retrieve(job.id)
    assert exc.value.retry_after is not None and 599 < exc.value.retry_after <= 600
    with pytest.raises(RateLimited):
        await other.create(request())
    assert len(fake_provider.requests) == before


async def test_a_503_with_retry_after_pauses_the_key_too(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    pacer = RequestPacer(1000)
    c = client(session, fake_provider, pacer=pacer)
    job = await c.create(request())
    fake_provider.inject(Fault(route="retrieve", status=503, retry_after=60))
    with pytest.raises(ProviderDown):
        await c.retrieve(job.id)
    assert 59 < pacer.paused_for() <= 60


async def test_a_storm_of_polls_through_one_paused_key_sends_a_handful(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    """200 jobs poll at once while the key is told `Retry-After: 1` for a second."""
    fp = fake_provider
    jobs = [fp.add_job(GUILD_A_KEY) for _ in range(200)]
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=5)
    pacer = RequestPacer(200)
    c = client(session, fp, pacer=pacer, retry=policy)
    fp.inject(Fault(route="retrieve", status=429, retry_after=1, window=1))

    async def end_the_window() -> None:
        await asyncio.sleep(1.0)  # the first request goes within milliseconds
        fp.advance(1)  # the provider's window is on its fake clock

    ender = asyncio.create_task(end_the_window())
    polled = await asyncio.gather(*(c.poll(job.id) for job in jobs))
    await ender
    assert [video.id for video, _ in polled] == [job.id for job in jobs]
    refused = [r for r in fp.requests if r.status == 429]
    assert 1 <= len(refused) <= 5
    assert len(fp.requests) == len(jobs) + len(refused)


# -- no list route -----------------------------------------------------------------


@pytest.mark.parametrize("list_status", [404, 405])
async def test_a_relay_without_a_list_route_is_remembered(
    session: aiohttp.ClientSession, list_status: int
) -> None:
    async with FakeProvider(keys={GUILD_A_KEY}, list_route=False, list_status=list_status) as fp:
        api = VideoApi(session, retry=FAST)
        c = api.client_for(settings(fp, GUILD_A_KEY))
        assert c.can_list and not api.lists_unsupported(fp.base_url)
        # One 404 may be a relay hiccup: a failed look, not "no list route", until it repeats.
        for _ in range(2):
            with pytest.raises(Rejected):
                await c.list_videos()
            assert not api.lists_unsupported(fp.base_url)
        with pytest.raises(NotSupported):
            await c.list_videos()
        assert len(fp.requests_to("list")) == 3
        assert api.lists_unsupported(fp.base_url)
        again = api.client_for(settings(fp, GUILD_A_KEY))
        assert not again.can_list
        with pytest.raises(NotSupported):
            await again.find_by_metadata("req-1")
        assert len(fp.requests_to("list")) == 3  # known: not asked again
        await again.ping()  # the key is still checked, on the retrieve route
        assert fp.requests[-1].route == "retrieve"


async def test_can_list_follows_the_profile(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    assert client(session, fake_provider).can_list
    no_list = RELAY.model_copy(update={"list_path": None})
    c = client(session, fake_provider, profile=no_list)
    assert not c.can_list
    with pytest.raises(NotSupported):
        await c.find_by_metadata("req")


async def test_find_by_metadata_pages_through_the_list(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    fp = fake_provider
    wanted = fp.add_job(GUILD_A_KEY, metadata=json.dumps({"storyboard_job": 1, "request": "r-1"}))
    for n in range(150):  # newer jobs push it to the second page
        fp.add_job(GUILD_A_KEY, metadata=json.dumps({"request": f"other-{n}"}))
    fp.add_job(GUILD_B_KEY, metadata=json.dumps({"request": "r-2"}))
    c = client(session, fp)
    found = await c.find_by_metadata("r-1")
    assert found is not None and found.id == wanted.id
    assert [r.query.get("after") for r in fp.requests_to("list")] == [None, mock.ANY]
    assert await c.find_by_metadata("r-2") is None  # another key's job
    assert await c.find_by_metadata("r-1", pages=1) is None


def test_metadata_echoed_as_an_object_counts_too() -> None:
    video = VideoJob.model_validate({"id": "v", "status": "queued", "metadata": {"request": "r"}})
    assert _request_key_of(video) == "r"
    assert _request_key_of(VideoJob(id="v", status="queued")) is None


# -- a job's key ---------------------------------------------------------------------


def test_key_fingerprint_is_short_stable_and_not_the_key() -> None:
    fingerprint = key_fingerprint(SecretStr("sk-guild-a"))
    assert fingerprint == hashlib.sha256(b"sk-guild-a").hexdigest()[:16]
    assert fingerprint != key_fingerprint(SecretStr("sk-guild-b"))


async def test_a_client_for_the_key_that_made_a_job(
    session: aiohttp.ClientSession, fake_provider: FakeProvider
) -> None:
    api = VideoApi(session, retry=FAST)
    old = api.client_for(settings(fake_provider, GUILD_A_KEY))
    job = await old.create(request())
    fingerprint = old.fingerprint
    assert fingerprint == key_fingerprint(SecretStr(GUILD_A_KEY))
    rotated = settings(fake_provider, GUILD_B_KEY)  # an admin changed the guild's key
    again = api.client_for_fingerprint(fingerprint, rotated)
    assert (await again.retrieve(job.id)).id == job.id
    assert fake_provider.requests[-1].key == GUILD_A_KEY
    unknown = api.client_for_fingerprint("0" * 16, rotated)
    assert unknown.fingerprint == key_fingerprint(SecretStr(GUILD_B_KEY))
    assert api.remember(settings(fake_provider, None)) is None


# -- content gone ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
async def test_content_gone_is_not_found_at_once(
    session: aiohttp.ClientSession, fake_provider: FakeProvider, tmp_path: Path, status: int
) -> None:
    c = client(session, fake_provider)
    job = await c.create(request())
    fake_provider.advance(3600)
    fake_provider.inject(Fault(route="content", status=status, body={"detail": "gone"}))
    with pytest.raises(NotFound) as exc:
        await c.download_content(job.id, tmp_path / "v.mp4", max_bytes=10**7)
    assert (exc.value.status, exc.value.message) == (status, "gone")
    assert len(fake_provider.requests_to("content")) == 1


async def test_content_past_retention_is_not_found_and_a_5xx_is_retried(
    session: aiohttp.ClientSession, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    c = client(session, fake_provider)
    job = await c.create(request())
    fake_provider.advance(3600)
    fake_provider.inject(Fault(route="content", status=503, times=FAST.attempts))
    with pytest.raises(ProviderDown):
        await c.download_content(job.id, tmp_path / "v.mp4", max_bytes=10**7)
    assert len(fake_provider.requests_to("content")) == FAST.attempts
    fake_provider.expire_content(job.id)
    with pytest.raises(NotFound):
        await c.download_content(job.id, tmp_path / "v.mp4", max_bytes=10**7)
    assert len(fake_provider.requests_to("content")) == FAST.attempts + 1
