"""`/storyboard` end to end: the real bot, the fake Discord, the fake provider, real SQLite."""

from __future__ import annotations

import pytest

from tests.fake_discord.standard import GUILD_ID, TEXT_CHANNEL_ID
from tests.fake_provider import Fault
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import FOLLOWUP, SEND, THREAD_FROM_MESSAGE, World, followup_text, png_bytes


async def test_happy_path_without_image(world: World) -> None:
    fd = world.fd
    ix = await world.open_storyboard()
    assert ix.callback_type == 9
    modal = ix.modal
    assert modal is not None
    labels = [c["label"] for c in modal["components"]]
    assert labels == ["Shot 1", "Shot 2", "Shot 3", "Reference image (optional)"]

    sub = await world.submit(
        ix, ["The fridge door opens.", "[4s] A purple monster @everyone steps out.", "It waves."]
    )
    # Acknowledged first, ephemeral, before anything else.
    [ack] = sub.callback_calls
    assert ack.json == {"type": 5, "data": {"flags": 64}}

    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.key == GUILD_A_KEY
    assert create.fields["prompt"] == (
        "Shot 1:\nduration: 6sec\nScene: The fridge door opens.\n\n"
        "Shot 2:\nduration: 4sec\nScene: A purple monster @everyone steps out.\n\n"
        "Shot 3:\nduration: 5sec\nScene: It waves."
    )
    assert create.fields["seconds"] == "15"

    [card_call] = [c for c in fd.calls_to(SEND) if c.params["channel_id"] == str(TEXT_CHANNEL_ID)]
    card = card_call.json["embeds"][0]
    fields = {f["name"]: f["value"] for f in card["fields"]}
    [job] = await world.jobs()
    # The card names the video by its number; the video service's id is only in Details.
    assert card["footer"]["text"] == f"Video #{job.id}"
    assert "Task" not in fields and str(job.task_id) not in str(card)
    assert fields["Status"] == "Queued"
    assert fields["Length"] == "15 s"
    assert fields["Requested by"] == f"<@{world.std.alice.id}>"
    assert "@\u200beveryone" in card["description"]
    assert card_call.json["allowed_mentions"] == {"parse": []}

    [thread_call] = fd.calls_to(THREAD_FROM_MESSAGE)
    assert thread_call.json["name"] == "The fridge door opens."
    thread_id = int(thread_call.response["id"])
    [hello] = [c for c in fd.calls_to(SEND) if c.params["channel_id"] == str(thread_id)]
    assert hello.json["allowed_mentions"] == {"parse": [], "users": [world.std.alice.id]}

    text = followup_text(sub)
    assert f"Video #{job.id} is queued" in text
    assert f"<#{thread_id}>" in text
    assert (job.state, job.card_message_id, job.thread_id) == (
        "active",
        int(card_call.response["id"]),
        thread_id,
    )
    assert job.guild_id == GUILD_ID


def ephemeral(message: dict[str, object]) -> bool:
    return bool(int(message.get("flags", 0) or 0) & 64)  # type: ignore[call-overload]


async def test_image_from_the_command_option(world: World) -> None:
    image = world.fd.attachment("photo.webp.png", png_bytes(), "image/png")
    ix = await world.open_storyboard(image=image, shots=2, seconds=10)
    assert ix.modal is not None
    assert [c["label"] for c in ix.modal["components"]] == ["Shot 1", "Shot 2"]
    sub = await world.submit(ix, ["A red kite.", "It flies away."])
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    ref = create.files["input_reference"]
    assert (ref.filename, ref.content_type, ref.data) == ("photo.png", "image/png", png_bytes())
    card = world.fd.calls_to(SEND)[0].json["embeds"][0]
    assert {f["name"]: f["value"] for f in card["fields"]}["Reference image"] == "photo.png"
    assert "is queued" in followup_text(sub)


async def test_image_from_the_modal_upload(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10)
    upload = world.fd.attachment("ref.png", png_bytes((20, 40)), "image/png")
    await world.submit(ix, ["A tall tower."], image=upload)
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.files["input_reference"].data == png_bytes((20, 40))


async def test_second_guild_uses_its_own_key_and_defaults(world: World) -> None:
    ix = await world.open_storyboard(
        world.carol, guild=world.second, channel=world.second_channel, shots=1
    )
    await world.submit(ix, ["A quiet studio."])
    [create] = world.provider.requests_to("create")
    assert create.key == "sk-guild-b"
    assert create.fields["seconds"] == "10"


async def assert_nothing_submitted(world: World) -> None:
    assert world.provider.requests_to("create") == []
    assert world.fd.calls_to(SEND) == []
    assert await world.jobs() == []


async def test_durations_that_do_not_add_up_name_the_shot_and_echo_the_text(world: World) -> None:
    ix = await world.open_storyboard(shots=2, seconds=10)
    sub = await world.submit(ix, ["[5s] A door opens.", "[8s] A monster steps out."])
    [reply] = [m for m in [sub.original_message] if m]
    assert ephemeral(reply)
    text = reply["content"]
    assert "The shots add up to 13 s but the video is 10 s. Change shot 2 from 8 s to 5 s" in text
    assert "[5s] A door opens.\n\n[8s] A monster steps out." in text
    await assert_nothing_submitted(world)


async def test_whitespace_scene_is_an_empty_scene(world: World) -> None:
    ix = await world.open_storyboard(shots=2, seconds=10)
    sub = await world.submit(ix, ["A door opens.", "   "])
    assert "Shot 2 has no scene" in followup_text(sub)
    await assert_nothing_submitted(world)


async def test_25_seconds_on_a_non_pro_model_is_refused_before_the_modal(world: World) -> None:
    ix = await world.open_storyboard(seconds=25, model="sora-2")
    assert ix.callback is not None
    assert ix.callback["type"] == 4
    assert ix.callback["data"]["flags"] == 64
    assert '25 s videos need a pro model; "sora-2" is not one.' in ix.callback["data"]["content"]
    assert world.provider.requests == []


async def test_unknown_model_is_refused_before_the_modal(world: World) -> None:
    ix = await world.open_storyboard(model="sora-9")
    assert ix.callback is not None
    assert 'The model "sora-9" is not available here' in ix.callback["data"]["content"]


async def test_a_guild_with_no_key_is_told_so(world: World) -> None:
    ix = await world.open_storyboard(world.carol, guild=world.no_key, channel=world.no_key_channel)
    assert ix.callback is not None
    assert ix.callback["type"] == 4
    assert "no video API key" in ix.callback["data"]["content"]
    assert world.provider.requests == []


async def test_a_pdf_renamed_png_is_refused_after_download(world: World) -> None:
    fake = world.fd.attachment("scan.png", b"%PDF-1.7\n1 0 obj <<>> endobj\n", "image/png")
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat."], image=fake)
    assert "not a PNG, JPEG, WebP, HEIC or AVIF image" in followup_text(sub)
    assert "A cat." in followup_text(sub)
    await assert_nothing_submitted(world)


async def test_an_image_over_the_limit_is_refused_before_the_modal(world: World) -> None:
    big = world.fd.attachment("big.png", b"\0" * (3 * 1024 * 1024), "image/png")
    ix = await world.open_storyboard(image=big)
    assert ix.callback is not None
    assert "The attached image is 3.0 MB; the most is 2.0 MB." in ix.callback["data"]["content"]


async def test_an_uploaded_image_over_the_limit_is_refused_without_downloading(
    world: World,
) -> None:
    big = world.fd.attachment("big.png", b"\0" * (3 * 1024 * 1024), "image/png")
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat."], image=big)
    assert "The image is 3.0 MB; the most is 2.0 MB." in followup_text(sub)
    assert not [c for c in world.fd.calls if "/cdn/" in c.path]
    await assert_nothing_submitted(world)


async def provider_refusal(world: World, fault: Fault) -> str:
    world.provider.inject(fault)
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat on a roof."])
    text = followup_text(sub)
    assert "A cat on a roof." in text
    assert world.fd.calls_to(SEND) == []
    [job] = await world.jobs()
    assert job.state == "submit_failed"
    return text


async def test_provider_refusal_shows_its_message(world: World) -> None:
    # An ordinary refusal (a safety refusal is told differently: test_moderation_e2e.py).
    body = {
        "error": {
            "message": "Prompt must not exceed 3 shots for this model",
            "type": "invalid_request_error",
            "param": "prompt",
            "code": None,
        }
    }
    text = await provider_refusal(
        world, Fault(route="create", kind="status", status=400, body=body)
    )
    assert (
        "The video service refused the request: Prompt must not exceed 3 shots for this model"
        in text
    )


async def test_rate_limited_says_when_to_try_again(world: World) -> None:
    text = await provider_refusal(
        world, Fault(route="create", kind="status", status=429, retry_after=90)
    )
    assert "Try again in 90 s" in text


async def test_a_503_on_create_is_uncertain_not_a_refusal(world: World) -> None:
    # A proxy's 503 may come after the relay took the job: never "not submitted".
    world.provider.inject(Fault(route="create", kind="status", status=503))
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat on a fence."])
    text = followup_text(sub)
    assert "may or may not have started the video" in text
    assert "was not submitted" not in text
    [job] = await world.jobs()
    assert job.state == "uncertain"
    assert len(world.provider.requests_to("create")) == 1


async def test_provider_too_slow_is_uncertain_and_not_resent(world: World) -> None:
    world.provider.inject(Fault(route="create", kind="slow", delay=3.0))
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat on a roof."])
    text = followup_text(sub)
    assert "may or may not have started the video" in text
    assert "so you are not charged twice" in text
    assert len(world.provider.requests_to("create")) == 1
    [job] = await world.jobs()
    assert job.state == "uncertain"


async def test_a_double_submit_sends_one_job(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10)
    values = {"shot_1": "A single cat."}
    first = await world.fd.submit_modal(ix, values)
    second = await world.fd.submit_modal(ix, values)
    await world.wait_reply(first)
    await world.wait_reply(second)
    texts = followup_text(first) + followup_text(second)
    assert len(world.provider.requests_to("create")) == 1
    assert "already submitted (video #1)" in texts
    assert len(await world.jobs()) == 1


async def test_thread_creation_forbidden_keeps_the_card_in_the_channel(world: World) -> None:
    world.fd.fail_next(THREAD_FROM_MESSAGE, status=403, code=50013, message="Missing Permissions")
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat."])
    [card] = world.fd.calls_to(SEND)
    assert card.params["channel_id"] == str(TEXT_CHANNEL_ID)
    assert "could not open a thread here" in followup_text(sub)
    [job] = await world.jobs()
    assert (job.state, job.thread_id, job.card_message_id) == (
        "active",
        None,
        int(card.response["id"]),
    )
    world.fd.expect_problem(world.fd.calls_to(THREAD_FROM_MESSAGE)[0])


async def test_discord_429_on_the_followup_is_retried(world: World) -> None:
    world.fd.fail_next(FOLLOWUP, status=429, retry_after=0.2)
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat."])
    assert "is queued" in followup_text(sub)
    statuses = [c.status for c in world.fd.calls_to(FOLLOWUP)]
    assert statuses == [429, 200]
    for call in world.fd.calls_to(FOLLOWUP):
        if call.status == 429:
            world.fd.expect_problem(call)


async def test_gateway_resume_mid_flow(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10)
    assert await world.fd.disconnect_gateway(4000, resumable=True) == "resumed"
    sub = await world.submit(ix, ["A cat after a reconnect."])
    assert "is queued" in followup_text(sub)
    assert len(world.provider.requests_to("create")) == 1


async def test_inside_a_thread_the_card_goes_there(world: World) -> None:
    first = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(first, ["The first video."])
    thread_id = int(world.fd.calls_to(THREAD_FROM_MESSAGE)[0].response["id"])
    thread = world.fd.channels[thread_id]
    ix = await world.open_storyboard(channel=thread, shots=1, seconds=10)
    sub = await world.submit(ix, ["The second video."])
    cards = [c for c in world.fd.calls_to(SEND) if c.json.get("embeds")]
    assert [c.params["channel_id"] for c in cards] == [str(TEXT_CHANNEL_ID), str(thread_id)]
    assert len(world.fd.calls_to(THREAD_FROM_MESSAGE)) == 1
    assert f"<#{thread_id}>" in followup_text(sub)


async def test_a_pasted_storyboard_in_one_field_expands(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=15)
    pasted = r"Shot 1:\nduration: 5sec\nScene: A.\n\nShot 2:\nduration: 5sec\nScene: B. Shot 3:\nduration: 5sec\nScene: C."
    await world.submit(ix, [pasted])
    [create] = world.provider.requests_to("create")
    assert create.fields["prompt"].count("Shot ") == 3


async def test_no_key_or_token_reaches_discord_or_the_logs(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.provider.inject(Fault(route="create", kind="status", status=401))
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A cat."])
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A dog."])
    sent = world.sent_text()
    logs = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for secret in world.secrets:
        assert secret not in sent
        assert secret not in logs
