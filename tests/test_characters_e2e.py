"""Characters end to end: from a URL and range, from a task, from the button, and on /storyboard."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fake_discord import InteractionHandle
from tests.harness import SEND, World, followup_text


async def character(world: World, **options: Any) -> InteractionHandle:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="character create",
        options=options,
    )
    await ix.wait_callback()
    return ix


def text_of(ix: InteractionHandle) -> str:
    data = (ix.callback or {}).get("data") or {}
    return str(data.get("content", "")) + followup_text(ix)


async def test_from_a_url_and_range_it_is_tracked_and_delivered(world: World) -> None:
    ix = await character(
        world, url="https://videos.example/monster.mp4", range="2,4", name="Purple monster"
    )
    await world.wait_reply(ix)
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.fields["character_url"] == "https://videos.example/monster.mp4"
    assert create.fields["character_timestamps"] == "2,4"
    assert create.fields["prompt"] == "Purple monster"
    assert "seconds" not in create.fields
    [job] = await world.jobs()
    assert job.kind == "character"
    card = next(c for c in world.fd.calls_to(SEND) if c.json.get("embeds"))
    assert card.json["embeds"][0]["title"] == "Character"
    fields = {f["name"]: f["value"] for f in card.json["embeds"][0]["fields"]}
    assert fields["Made from"] == "https://videos.example/monster.mp4, 2–4 s"
    world.provider.advance(3600)
    await world.wait_until(
        lambda: any(
            "character is ready" in str(c.json.get("content")) for c in world.fd.calls_to(SEND)
        )
    )
    assert world.provider.requests_to("content") == []  # nothing to download for a character


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"url": "https://videos.example/a.mp4", "range": "2,6"},
            "is 4 s long; a character needs 1 to 3 s",
        ),
        ({"url": "https://videos.example/a.mp4", "range": "3,3.5"}, "is 0.5 s long"),
        ({"url": "https://videos.example/a.mp4", "range": "soon"}, "is not a time range"),
        (
            {"url": "https://cdn.discordapp.com/attachments/1/2/a.mp4", "range": "1,2"},
            "Discord attachment links expire",
        ),
        ({"url": "not a link", "range": "1,2"}, "not a video link"),
        ({"url": "https://videos.example/a.mp4"}, "Give either a video link and a range"),
        ({"task": "#99"}, "There is no video #99"),
    ],
)
async def test_bad_sources_are_refused_before_anything_is_sent(
    world: World, options: dict[str, str], message: str
) -> None:
    ix = await character(world, **options)
    assert ix.callback_type == 4
    assert message in text_of(ix)
    assert world.provider.requests == []


async def test_from_a_finished_task_and_from_the_button_on_the_video(world: World) -> None:
    video = await world.submitted_job("A friendly robot waves.")
    ix = await character(world, task=f"#{video.id}")
    assert "isn't finished, so no character can be made from it" in text_of(ix)
    world.provider.advance(3600)
    await world.wait_until(lambda: any(c.files for c in world.fd.calls_to(SEND)))
    ix = await character(world, task=video.task_id)
    await world.wait_reply(ix)
    creates = world.provider.requests_to("create")
    assert creates[-1].fields["character_from_task"] == video.task_id
    assert creates[-1].valid, creates[-1].errors

    delivery = next(c for c in world.fd.calls_to(SEND) if c.files)
    buttons = [b["custom_id"] for row in delivery.json["components"] for b in row["components"]]
    # The finished job's buttons under the video, Create character among them.
    assert buttons == [f"sb:remix:{video.id}", f"sb:details:{video.id}", f"sb:character:{video.id}"]
    press = await world.fd.press_button(
        int(delivery.response["id"]), f"sb:character:{video.id}", user=world.std.alice
    )
    await world.wait_reply(press)
    creates = world.provider.requests_to("create")
    assert len(creates) == 3
    assert creates[-1].fields["character_from_task"] == video.task_id
    jobs = await world.jobs()
    assert jobs[-1].card_channel_id == video.thread_id
    # Its card says where it comes from by the video's number, as members know it.
    [*_, card] = [c for c in world.fd.calls_to(SEND) if c.json and c.json.get("embeds")]
    fields = {f["name"]: f["value"] for f in card.json["embeds"][0]["fields"]}
    assert fields["Made from"] == f"video #{video.id}"


async def test_storyboard_can_ask_for_a_character_afterwards(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10, character=True)
    await world.submit(ix, ["A cartoon fox."])
    [create] = world.provider.requests_to("create")
    assert create.fields["character_create"] == "true"
    assert create.valid, create.errors
