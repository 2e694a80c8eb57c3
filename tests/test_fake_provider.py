"""The fake video provider, driven over real HTTP with aiohttp (no mocks)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from tests.fake_provider import (
    PROBLEM_JSON,
    FakeProvider,
    Fault,
    RecordedRequest,
    html_error_page,
    newapi_error_body,
    problem_body,
)
from tests.fake_provider import fixtures as provider_fixtures
from tests.fake_provider.contract import relay_contract
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.fake_provider.records import Headers
from tests.processes import eventually

# The shared fixtures, exactly as tests/conftest.py will offer them.
fake_provider = provider_fixtures.fake_provider
fake_openai_provider = provider_fixtures.fake_openai_provider

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PROMPT = "Shot 1:\nduration: 5sec\nScene: The fridge door opens.\n\nShot 2:\nduration: 5sec\n"


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def form(fields: Mapping[str, str], image: bytes | None = None) -> aiohttp.FormData:
    """A multipart body, as the bot must send it (even without a file)."""
    data = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        data.add_field(name, value)
    if image is not None:
        data.add_field("input_reference", image, filename="ref.png", content_type="image/png")
    return data


def auth(key: str = GUILD_A_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    key: str = GUILD_A_KEY,
    data: Any = None,
    json_body: Any = None,
) -> tuple[int, Any]:
    async with session.request(method, url, headers=auth(key), data=data, json=json_body) as resp:
        return resp.status, await resp.json()


async def create(
    session: aiohttp.ClientSession, fp: FakeProvider, key: str = GUILD_A_KEY, **fields: str
) -> dict[str, Any]:
    status, body = await call(session, "POST", f"{fp.base_url}/videos", key=key, data=form(fields))
    assert status == 200, body
    return dict(body)


def relay_fields(**overrides: str) -> dict[str, str]:
    return {"model": "sora-2", "prompt": PROMPT, "seconds": "10", **overrides}


# -- relay dialect: the contract ---------------------------------------------


async def test_valid_relay_create_without_image(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    video = await create(session, fp, **relay_fields(seconds="15", metadata='{"guild": 1}'))

    assert re.fullmatch(r"sora-2:task_[0-9a-z]{26}", video["id"])
    assert video == {
        "id": video["id"],
        "object": "video",
        "model": "sora-2",
        "status": "queued",
        "progress": 0,
        "created_at": int(fp.now * 1000),
        "seconds": "15",
        "size": "1280x720",
        "metadata": '{"guild": 1}',  # echoed, so a client can find its job after a crash
    }
    (request,) = fp.requests
    assert request.valid and request.errors == []
    assert request.content_type == "multipart/form-data"
    assert request.key == GUILD_A_KEY
    assert request.fields["prompt"] == PROMPT
    assert request.job_id == video["id"]
    assert fp.jobs[video["id"]].metadata == '{"guild": 1}'


async def test_valid_relay_create_with_image_and_booleans(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    data = form(relay_fields(private="false", character_create="true", size="9x16"), PNG)
    status, video = await call(session, "POST", f"{fake_provider.base_url}/videos", data=data)

    assert status == 200, video
    assert video["size"] == "720x1280"  # the relay keeps only the orientation
    request = fake_provider.requests[0]
    assert request.valid, request.errors
    image = request.files["input_reference"]
    assert (image.filename, image.content_type, image.data) == ("ref.png", "image/png", PNG)
    assert fake_provider.jobs[video["id"]].files["input_reference"].data == PNG


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (relay_fields(seconds="20"), "seconds"),
        ({"model": "sora-2", "seconds": "10"}, "prompt"),
        ({"prompt": PROMPT}, "model"),
        (relay_fields(seconds="25"), "seconds"),
        (relay_fields(private="False"), "private"),
        (relay_fields(character_timestamps="0,5"), "character_timestamps"),
        (relay_fields(character_timestamps="later"), "character_timestamps"),
        (relay_fields(size="wide"), "size"),
    ],
)
async def test_relay_rejects_what_the_provider_rejects(
    fake_provider: FakeProvider,
    session: aiohttp.ClientSession,
    fields: dict[str, str],
    param: str,
) -> None:
    url = f"{fake_provider.base_url}/videos"
    status, body = await call(session, "POST", url, data=form(fields))

    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == param
    assert f"'{param}'" in body["error"]["message"]
    assert fake_provider.requests[0].valid is False
    assert fake_provider.jobs == {}


async def test_relay_accepts_25_seconds_and_timestamps_for_pro(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fields = relay_fields(model="sora-2-pro", seconds="25", character_timestamps="2,4.5")
    video = await create(session, fake_provider, **fields)
    assert video["seconds"] == "25"


@pytest.mark.parametrize(
    ("kwargs", "content_type"),
    [
        ({"data": {"model": "sora-2", "prompt": "x"}}, "application/x-www-form-urlencoded"),
        ({"json": {"model": "sora-2", "prompt": "x"}}, "application/json"),
        ({"data": b"model=sora-2", "headers": {"Content-Type": "text/plain"}}, "text/plain"),
    ],
)
async def test_relay_rejects_bodies_that_are_not_multipart(
    fake_provider: FakeProvider,
    session: aiohttp.ClientSession,
    kwargs: dict[str, Any],
    content_type: str,
) -> None:
    headers = {**auth(), **kwargs.pop("headers", {})}
    url = f"{fake_provider.base_url}/videos"
    async with session.post(url, headers=headers, **kwargs) as resp:
        status, body = resp.status, await resp.json()

    assert status == 400
    assert content_type in body["error"]["message"]
    assert "multipart/form-data" in body["error"]["message"]
    assert fake_provider.requests[0].content_type == content_type
    assert not fake_provider.requests[0].valid


async def test_relay_rejects_an_empty_multipart_body(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    headers = {**auth(), "Content-Type": "multipart/form-data; boundary=xyz"}
    async with session.post(f"{fake_provider.base_url}/videos", headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["param"] == "model"


def test_contract_is_built_once_and_knows_the_booleans() -> None:
    assert relay_contract() is relay_contract()
    assert relay_contract().boolean_fields == {"private", "character_create"}


# -- auth --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "bearer_present"),
    [(auth("sk-wrong"), True), ({}, False), ({"Authorization": GUILD_A_KEY}, False)],
)
async def test_unknown_or_missing_key_gets_401(
    fake_provider: FakeProvider,
    session: aiohttp.ClientSession,
    headers: dict[str, str],
    bearer_present: bool,
) -> None:
    url = f"{fake_provider.base_url}/videos"
    async with session.post(url, headers=headers, data=form(relay_fields())) as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "error": {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "param": None,
            }
        }
    assert fake_provider.jobs == {}
    # The contract's `security: bearer` is part of what `valid` checks.
    assert fake_provider.requests[0].valid is bearer_present


async def test_each_key_sees_only_its_own_jobs(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    video = await create(session, fake_provider, key=GUILD_A_KEY, **relay_fields())
    url = f"{fake_provider.base_url}/videos/{video['id']}"

    assert (await call(session, "GET", url, key=GUILD_A_KEY))[0] == 200
    assert (await call(session, "GET", url, key=GUILD_B_KEY))[0] == 404
    assert [r.key for r in fake_provider.requests] == [GUILD_A_KEY, GUILD_A_KEY, GUILD_B_KEY]
    assert fake_provider.jobs[video["id"]].key == GUILD_A_KEY


def test_recorded_requests_do_not_show_keys() -> None:
    record = RecordedRequest(
        method="GET",
        path="/v1/videos",
        route="list",
        query={},
        headers=Headers(auth()),
        key=GUILD_A_KEY,
        content_type=None,
        body=b"",
    )
    assert GUILD_A_KEY not in repr(record)
    assert GUILD_A_KEY not in repr(record.headers)
    assert record.headers["authorization"] == f"Bearer {GUILD_A_KEY}"


# -- the job timeline ---------------------------------------------------------


async def test_timeline_moves_only_with_advance(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    video = await create(session, fp, **relay_fields())
    url = f"{fp.base_url}/videos/{video['id']}"

    async def poll() -> dict[str, Any]:
        async with session.get(url, headers=auth()) as resp:
            assert resp.headers["openai-poll-after-ms"] == "2000"
            return dict(await resp.json())

    assert (await poll())["status"] == "queued"
    fp.advance(4.9)
    assert (await poll())["status"] == "queued"
    fp.advance(0.1 + 30)
    first = await poll()
    assert (first["status"], first["progress"]) == ("in_progress", 50)
    assert await poll() == first  # no clock move, no change
    fp.advance(29)
    assert (await poll())["progress"] == 98
    fp.advance(1)
    done = await poll()
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert done["completed_at"] == video["created_at"] + 65_000
    assert done["expires_at"] == done["completed_at"] + 3_600_000
    assert "error" not in done


async def test_set_outcome_fails_future_jobs_and_single_jobs(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    first = await create(session, fp, **relay_fields())
    fp.set_outcome(None, "fail", code="content_policy_violation", message="Blocked.")
    second = await create(session, fp, **relay_fields())
    fp.set_outcome(first["id"], "fail", code="timeout", message="Took too long.")
    fp.advance(65)

    _, one = await call(session, "GET", f"{fp.base_url}/videos/{first['id']}")
    _, two = await call(session, "GET", f"{fp.base_url}/videos/{second['id']}")
    assert one["status"] == two["status"] == "failed"
    assert one["error"] == {"code": "timeout", "message": "Took too long."}
    assert two["error"] == {"code": "content_policy_violation", "message": "Blocked."}


async def test_status_can_be_pinned(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    video = await create(session, fp, **relay_fields())
    url = f"{fp.base_url}/videos/{video['id']}"

    fp.set_status(video["id"], "in_progress", progress=42)
    assert (await call(session, "GET", url))[1]["progress"] == 42
    fp.jobs[video["id"]].status = "completed"
    fp.jobs[video["id"]].progress = None
    assert (await call(session, "GET", url))[1]["status"] == "completed"
    fp.set_status(video["id"], None)
    assert (await call(session, "GET", url))[1]["status"] == "queued"


async def test_content_only_when_completed(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    video = await create(session, fp, **relay_fields())
    url = f"{fp.base_url}/videos/{video['id']}/content"

    status, body = await call(session, "GET", url)
    assert status == 409
    assert body["error"]["code"] == "video_not_ready"

    fp.advance(65)
    async with session.get(url, headers=auth()) as resp:
        data = await resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "video/mp4"
        assert int(resp.headers["Content-Length"]) == len(data) == 64 * 1024
    assert data[4:12] == b"ftypisom"
    assert data == fp.content_of(video["id"])

    async with session.get(url, params={"variant": "thumbnail"}, headers=auth()) as resp:
        assert resp.headers["Content-Type"] == "image/webp"
        assert (await resp.read())[:4] == b"RIFF"
    missing = f"{fp.base_url}/videos/sora-2:task_00000000000000000000000000/content"
    assert (await call(session, "GET", missing))[0] == 404
    fp.advance(3600)
    status, body = await call(session, "GET", url)
    assert (status, body["error"]["code"]) == (404, "expired")


async def test_list_and_delete(fake_provider: FakeProvider, session: aiohttp.ClientSession) -> None:
    fp = fake_provider
    ids = [(await create(session, fp, **relay_fields()))["id"] for _ in range(3)]
    await create(session, fp, key=GUILD_B_KEY, **relay_fields())

    _, page = await call(session, "GET", f"{fp.base_url}/videos?limit=2")
    assert [v["id"] for v in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True
    _, rest = await call(session, "GET", f"{fp.base_url}/videos?limit=2&after={page['last_id']}")
    assert [v["id"] for v in rest["data"]] == ids[:1]
    _, asc = await call(session, "GET", f"{fp.base_url}/videos?order=asc")
    assert [v["id"] for v in asc["data"]] == ids

    status, deleted = await call(session, "DELETE", f"{fp.base_url}/videos/{ids[0]}")
    assert (status, deleted["deleted"]) == (200, True)
    assert (await call(session, "GET", f"{fp.base_url}/videos/{ids[0]}"))[0] == 404
    fp.advance(10)
    assert (await call(session, "DELETE", f"{fp.base_url}/videos/{ids[1]}"))[0] == 409


async def test_unknown_route_is_an_openai_style_404(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    status, body = await call(session, "GET", f"{fake_provider.base_url}/video/query?id=1")
    assert status == 404
    assert "error" in body
    assert fake_provider.requests[0].route == "unknown"


# -- faults -------------------------------------------------------------------


async def test_status_fault_with_retry_after(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    fp.inject(Fault(route="create", kind="status", status=429, retry_after=7))
    url = f"{fp.base_url}/videos"

    async with session.post(url, headers=auth(), data=form(relay_fields())) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "7"
        assert (await resp.json())["error"]["code"] == "rate_limit_exceeded"
    assert fp.jobs == {}
    await create(session, fp, **relay_fields())  # the fault was used up
    assert [(r.fault, r.status) for r in fp.requests] == [("status", 429), (None, 200)]


async def test_faults_match_routes_in_order_and_times(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    video = await create(session, fp, **relay_fields())
    url = f"{fp.base_url}/videos/{video['id']}"
    fp.inject(Fault(route="content", kind="status", status=500))
    fp.inject(Fault(route="retrieve", kind="status", status=503, times=2))
    fp.inject(Fault(route="any", kind="status", status=502, body="<html>Bad gateway</html>"))

    statuses = []
    for _ in range(4):
        async with session.get(url, headers=auth()) as resp:
            statuses.append(resp.status)
    assert statuses == [503, 503, 502, 200]
    assert [f.route for f in fp.faults] == ["content"]


async def test_slow_fault_lets_a_client_timeout_fire(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fake_provider.inject(Fault(route="list", kind="slow", delay=30))
    timeout = aiohttp.ClientTimeout(total=0.05)
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(f"{fake_provider.base_url}/videos", headers=auth(), timeout=timeout):
            pass
    fake_provider.inject(Fault(route="list", kind="slow", delay=0.01))
    assert (await call(session, "GET", f"{fake_provider.base_url}/videos"))[0] == 200


async def test_hold_fault_answers_when_released(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    held = fp.inject(Fault(route="list", kind="hold"))
    answer = asyncio.ensure_future(call(session, "GET", f"{fp.base_url}/videos"))
    await eventually(lambda: fp.requests, within=5)
    await asyncio.sleep(0.2)  # held: nothing comes back however long we wait
    assert not answer.done()
    held.release()
    assert (await answer)[0] == 200
    assert [(r.fault, r.status) for r in fp.requests] == [("hold", 200)]


async def test_a_hold_with_an_answer_refuses_when_released_and_makes_nothing(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    held = fp.inject(Fault(route="create", kind="hold", answer=422))
    form = {"model": "sora-2", "prompt": "A kite.", "seconds": "4"}
    answer = asyncio.ensure_future(call(session, "POST", f"{fp.base_url}/videos", data=form))
    await eventually(lambda: fp.requests, within=5)
    await asyncio.sleep(0.2)
    assert not answer.done()
    held.release()
    assert (await answer)[0] == 422
    assert fp.jobs == {}


async def test_requests_name_their_sender_when_told_how(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    await call(session, "GET", f"{fp.base_url}/videos")
    ports: list[int] = []

    def sender_of(port: int) -> str:
        ports.append(port)
        return "this test"

    fp.sender_of = sender_of
    await call(session, "GET", f"{fp.base_url}/videos")
    assert [r.sender for r in fp.requests] == [None, "this test"]
    assert len(ports) == 1 and ports[0] != URL(fp.base_url).port  # the client's, not ours


async def test_bad_json_fault_is_unparseable(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fake_provider.inject(Fault(route="create", kind="bad_json"))
    url = f"{fake_provider.base_url}/videos"
    async with session.post(url, headers=auth(), data=form(relay_fields())) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        with pytest.raises(json.JSONDecodeError):
            json.loads(await resp.text())
    assert len(fake_provider.jobs) == 1  # the create did reach the provider


async def test_drop_fault_is_a_connection_error(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fake_provider.inject(Fault(route="create", kind="drop"))
    url = f"{fake_provider.base_url}/videos"
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(session, "POST", url, data=form(relay_fields()))
    assert fake_provider.jobs == {}
    assert (fake_provider.requests[0].fault, fake_provider.requests[0].status) == ("drop", None)


async def test_aiohttp_retries_a_dropped_get_on_a_reused_connection(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    """Documents aiohttp 3.14: an idempotent request whose kept-alive
    connection drops is re-sent once by aiohttp itself, so the client only
    sees the error when the drop happens twice."""
    url = f"{fake_provider.base_url}/videos"
    await call(session, "GET", url)  # opens the kept-alive connection
    fake_provider.inject(Fault(route="list", kind="drop", times=1))
    assert (await call(session, "GET", url))[0] == 200
    fake_provider.inject(Fault(route="list", kind="drop", times=2))
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(session, "GET", url)
    assert [r.fault for r in fake_provider.requests] == [None, "drop", None, "drop", "drop"]


async def test_drop_after_read_creates_the_job_then_hangs_up(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fake_provider.inject(Fault(route="create", kind="drop_after_read"))
    url = f"{fake_provider.base_url}/videos"
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(session, "POST", url, data=form(relay_fields()))
    (request,) = fake_provider.requests
    assert request.job_id in fake_provider.jobs
    assert (request.fault, request.status) == ("drop_after_read", None)


async def test_truncate_fault_cuts_a_download(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    video = await create(session, fake_provider, **relay_fields())
    fake_provider.advance(65)
    fake_provider.inject(Fault(route="content", kind="truncate"))
    url = f"{fake_provider.base_url}/videos/{video['id']}/content"
    with pytest.raises(aiohttp.ClientPayloadError):
        async with session.get(url, headers=auth()) as resp:
            await resp.read()


def test_fault_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="kind"):
        Fault(kind="explode")  # type: ignore[arg-type]


async def test_relay_remix_takes_multipart_and_refuses_private_videos(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    public = await create(session, fp, **relay_fields(seconds="15"))
    private = await create(session, fp, **relay_fields(private="true"))
    fp.advance(65)

    url = f"{fp.base_url}/videos/{public['id']}/remix"
    status, remix = await call(session, "POST", url, data=form({"prompt": "bluer"}))
    assert (status, remix["remixed_from_video_id"], remix["seconds"]) == (200, public["id"], "15")
    url = f"{fp.base_url}/videos/{private['id']}/remix"
    status, body = await call(session, "POST", url, data=form({"prompt": "bluer"}))
    assert status == 400
    assert "private" in body["error"]["message"]


# -- openai dialect -----------------------------------------------------------


@pytest.mark.parametrize("seconds", ["4", "8", "12"])
async def test_openai_accepts_official_seconds(
    fake_openai_provider: FakeProvider, session: aiohttp.ClientSession, seconds: str
) -> None:
    fp = fake_openai_provider
    video = await create(session, fp, model="sora-2", prompt=PROMPT, seconds=seconds)
    assert video["seconds"] == seconds
    assert video["size"] == "720x1280"
    assert video["created_at"] == int(fp.now)
    assert video["error"] is None and video["completed_at"] is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": PROMPT, "seconds": "10"}, "seconds"),
        ({"prompt": PROMPT, "size": "1280x721"}, "size"),
        ({"prompt": PROMPT, "model": "sora-2-all"}, "model"),
        ({"model": "sora-2"}, "prompt"),
        ({"prompt": PROMPT, "watermark": "false"}, "watermark"),
        ({"prompt": PROMPT, "private": "true"}, "private"),
        ({"prompt": PROMPT, "metadata": "x"}, "metadata"),
        ({"prompt": PROMPT, "character_url": "https://x"}, "character_url"),
    ],
)
async def test_openai_rejects_other_values_and_relay_fields(
    fake_openai_provider: FakeProvider,
    session: aiohttp.ClientSession,
    fields: dict[str, str],
    param: str,
) -> None:
    url = f"{fake_openai_provider.base_url}/videos"
    status, body = await call(session, "POST", url, data=form(fields))
    assert status == 400
    assert body["error"]["param"] == param
    assert f"'{param}'" in body["error"]["message"]


async def test_openai_remix_and_completion(
    fake_openai_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_openai_provider
    source = await create(session, fp, prompt=PROMPT, seconds="8", size="1280x720")
    remix_url = f"{fp.base_url}/videos/{source['id']}/remix"
    assert (await call(session, "POST", remix_url, json_body={"prompt": "bluer"}))[0] == 400

    fp.advance(65)
    status, remix = await call(session, "POST", remix_url, json_body={"prompt": "bluer"})
    assert status == 200, remix
    assert remix["remixed_from_video_id"] == source["id"]
    assert (remix["seconds"], remix["size"], remix["prompt"]) == ("8", "1280x720", "bluer")
    _, done = await call(session, "GET", f"{fp.base_url}/videos/{source['id']}")
    assert done["expires_at"] == done["completed_at"] + 3600


# -- relay dialects and the faults real relays show ---------------------------


async def raw(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, str, bytes]:
    async with session.request(method, url, headers=auth(), **kwargs) as resp:
        return resp.status, resp.content_type, await resp.read()


async def test_accept_then_status_makes_the_job_then_answers_a_proxy_error(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    page = html_error_page(524, "A timeout occurred")
    fp.inject(
        Fault(
            route="create",
            kind="accept_then_status",
            status=524,
            body=page,
            content_type="text/html",
        )
    )
    status, kind, body = await raw(
        session, "POST", f"{fp.base_url}/videos", data=form(relay_fields())
    )
    assert (status, kind, body.decode()) == (524, "text/html", page)
    [sent] = fp.requests
    assert sent.valid, sent.errors  # still checked against the contract
    assert (sent.fault, sent.status, list(fp.jobs)) == ("accept_then_status", 524, [sent.job_id])
    # The default body is an OpenAI-style JSON error for the status.
    fp.inject(Fault(route="create", kind="accept_then_status", status=502))
    status, body = await call(session, "POST", f"{fp.base_url}/videos", data=form(relay_fields()))
    assert (status, body["error"]["message"], len(fp.jobs)) == (502, "Bad gateway.", 2)


async def test_a_window_fault_answers_every_request_until_the_clock_passes_it(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    video = await create(session, fp, **relay_fields())
    url = f"{fp.base_url}/videos/{video['id']}"
    storm = fp.inject(Fault(route="retrieve", status=429, retry_after=60, window=60))
    for _ in range(5):
        assert (await call(session, "GET", url))[0] == 429
    fp.advance(59.9)
    assert (await call(session, "GET", url))[0] == 429
    fp.advance(0.1)
    assert (await call(session, "GET", url))[0] == 200
    assert storm not in fp.faults
    with pytest.raises(ValueError, match="window"):
        Fault(window=0)


async def test_hidden_new_jobs_appear_after_the_delay(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    fp.hide_new_jobs(30)
    video = await create(session, fp, **relay_fields())
    url = f"{fp.base_url}/videos/{video['id']}"
    assert (await call(session, "GET", url))[0] == 404
    assert (await call(session, "GET", f"{fp.base_url}/videos"))[1]["data"] == []
    fp.hide_new_jobs(0)
    shown = await create(session, fp, **relay_fields())  # made after: visible at once
    assert (await call(session, "GET", f"{fp.base_url}/videos/{shown['id']}"))[0] == 200
    fp.advance(30)
    assert (await call(session, "GET", url))[0] == 200
    listed = (await call(session, "GET", f"{fp.base_url}/videos"))[1]["data"]
    assert [v["id"] for v in listed] == [shown["id"], video["id"]]


async def test_a_pinned_status_may_be_any_word_and_relays_may_rename_statuses(
    session: aiohttp.ClientSession,
) -> None:
    names = {"completed": "succeeded", "in_progress": "running", "queued": "not_start"}
    async with FakeProvider(keys={GUILD_A_KEY}, status_names=names) as fp:
        video = await create(session, fp, **relay_fields())
        assert video["status"] == "not_start"
        url = f"{fp.base_url}/videos/{video['id']}"
        fp.advance(10)
        assert (await call(session, "GET", url))[1]["status"] == "running"
        fp.advance(60)
        assert (await call(session, "GET", url))[1]["status"] == "succeeded"
        assert fp.jobs[video["id"]].status == "completed"  # the fake's own rules stay canonical
        fp.set_status(video["id"], "Expired")
        assert (await call(session, "GET", url))[1]["status"] == "Expired"


async def test_task_id_only_and_the_newapi_data_envelope(session: aiohttp.ClientSession) -> None:
    async with FakeProvider(keys={GUILD_A_KEY}, task_id_only=True, wrap_data=True) as fp:
        answer = await create(session, fp, **relay_fields())
        assert answer["code"] == "success"
        video = answer["data"]
        assert "id" not in video and video["task_id"] in fp.jobs
        status, again = await call(session, "GET", f"{fp.base_url}/videos/{video['task_id']}")
        assert (status, again["data"]["task_id"]) == (200, video["task_id"])


@pytest.mark.parametrize("list_status", [404, 405])
async def test_a_relay_without_a_list_route(
    session: aiohttp.ClientSession, list_status: int
) -> None:
    async with FakeProvider(keys={GUILD_A_KEY}, list_route=False, list_status=list_status) as fp:
        video = await create(session, fp, **relay_fields())
        status, body = await call(session, "GET", f"{fp.base_url}/videos")
        assert (status, body["error"]["message"]) == (
            list_status,
            "Invalid URL (GET /v1/videos)",
        )
        assert (await call(session, "GET", f"{fp.base_url}/videos/{video['id']}"))[0] == 200


async def test_expire_content_forces_the_404_retention_gives(
    fake_provider: FakeProvider, session: aiohttp.ClientSession
) -> None:
    fp = fake_provider
    video = await create(session, fp, **relay_fields())
    fp.advance(65)
    url = f"{fp.base_url}/videos/{video['id']}/content"
    assert (await raw(session, "GET", url))[0] == 200
    fp.expire_content(video["id"])
    status, body = await call(session, "GET", url)
    assert (status, body["error"]["code"]) == (404, "expired")


@pytest.mark.parametrize(
    ("fault", "content_type", "expected"),
    [
        (
            Fault(status=500, body=newapi_error_body("上游任务失败")),
            "application/json",
            {"code": "fail_to_fetch_task", "message": "上游任务失败", "data": None},
        ),
        (
            Fault(
                status=503,
                body=problem_body(503, "Service Unavailable", "Upstream is restarting."),
                content_type=PROBLEM_JSON,
            ),
            PROBLEM_JSON,
            {
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "Upstream is restarting.",
            },
        ),
        (Fault(status=502, body="upstream connect error"), "text/plain", "upstream connect error"),
        (
            Fault(
                status=504, body=html_error_page(504, "Gateway time-out"), content_type="text/html"
            ),
            "text/html",
            html_error_page(504, "Gateway time-out"),
        ),
    ],
    ids=["new-api", "problem+json", "text", "html"],
)
async def test_error_body_shapes(
    fake_provider: FakeProvider,
    session: aiohttp.ClientSession,
    fault: Fault,
    content_type: str,
    expected: Any,
) -> None:
    fp = fake_provider
    fp.inject(fault)
    status, kind, body = await raw(session, "GET", f"{fp.base_url}/videos/x")
    assert (status, kind) == (fault.status, content_type)
    assert (json.loads(body) if isinstance(expected, dict) else body.decode()) == expected


async def test_add_job_makes_an_open_job_without_a_request(fake_provider: FakeProvider) -> None:
    job = fake_provider.add_job(GUILD_A_KEY, seconds="15")
    assert (job.key, job.seconds, job.status) == (GUILD_A_KEY, "15", "queued")
    assert fake_provider.requests == []
