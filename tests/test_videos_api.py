"""The video API client against the fake provider, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from pydantic import SecretStr

from bot.config import DefaultsSection, GuildSettings
from bot.errors import StoryboardError
from bot.profiles import OPENAI, RELAY, ProviderProfile
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.videos_api import (
    AuthFailed,
    ContentTooLarge,
    CreateVideoRequest,
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
    ratelimit,
)
from bot.videos_api.ratelimit import RequestPacer
from tests.conftest import GUILD_A_KEY, GUILD_B_KEY
from tests.fake_provider import FakeProvider, Fault

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
) -> VideoClient:
    return VideoClient(
        session,
        base_url=provider.base_url,
        api_key=SecretStr(key),
        profile=profile,
        timeout_seconds=timeout,
        pacer=RequestPacer(1000),
        retry=FAST,
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
