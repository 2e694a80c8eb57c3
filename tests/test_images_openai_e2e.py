"""Reference images end to end for a guild on the openai profile: OpenAI refuses an
image whose size is not the video's, so the provider receives exactly the requested
size, from the quick form and from a draft (fitted at submit, when the size is known)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider import FakeProvider
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import World, followup_text
from tests.photos import bands, corner, encoded, metadata_of, opened, orientation_only


@pytest.fixture
def fake_provider(fake_openai_provider: FakeProvider) -> FakeProvider:
    """This module's provider speaks OpenAI's Videos API (the world uses it)."""
    return fake_openai_provider


async def on_openai(world: World, **overrides: Any) -> None:
    """Guild A on the openai profile (8 s videos), the other settings as the harness's."""
    guild = {"api_key": GUILD_A_KEY, "profile": "openai", "seconds": 8}
    config = world.config_with(
        guilds={str(GUILD_ID): guild},
        **overrides,
    )
    await world.restart(config)


def turned_bands() -> bytes:
    """A sensor's 800x600 (red, green, blue from left to right) with EXIF orientation 6:
    upright it is 600x800 with red on top and blue at the bottom."""
    sensor = bands((800, 600), ("red", "green", "blue"), across=True)
    return encoded(sensor, "JPEG", quality=95, exif=orientation_only(6))


async def test_a_phone_photo_is_fitted_to_1280x720(world: World) -> None:
    await on_openai(world)
    upload = world.fd.attachment("IMG_3001.JPG", turned_bands(), "image/jpeg")
    ix = await world.open_storyboard(image=upload, shots=1, seconds=8)
    sub = await world.submit(ix, ["A flag in the wind."])
    assert "is queued" in followup_text(sub)
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.fields["size"] == "1280x720"
    ref = create.files["input_reference"]
    assert (ref.filename, ref.content_type) == ("IMG_3001.jpg", "image/jpeg")
    sent = opened(ref.data)
    assert sent.size == (1280, 720)
    assert metadata_of(ref.data) == {}
    # Turned upright first, then cropped (centred): red above, blue below, green between.
    assert corner(sent, "top-right", inset=4) == "red"
    assert corner(sent, "bottom-left", inset=4) == "blue"
    assert corner(sent, "top-left", inset=300) == "green"


async def test_portrait_videos_get_a_720x1280_image(world: World) -> None:
    await on_openai(world)
    upload = world.fd.attachment(
        "wide.png", encoded(bands((900, 600), ("red", "green", "blue")), "PNG"), "image/png"
    )
    ix = await world.open_storyboard(image=upload, shots=1, seconds=8, orientation="portrait")
    await world.submit(ix, ["A tall tower."])
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.fields["size"] == "720x1280"
    ref = create.files["input_reference"]
    assert ref.content_type == "image/png"  # a PNG stays a PNG
    assert opened(ref.data).size == (720, 1280)


async def test_pad_with_black_keeps_the_whole_picture(world: World) -> None:
    await on_openai(world, images={"fit": "pad", "pad_fill": "black"})
    square = encoded(bands((900, 900), ("red", "green", "blue")), "PNG")
    upload = world.fd.attachment("square.png", square, "image/png")
    ix = await world.open_storyboard(image=upload, shots=1, seconds=8)
    await world.submit(ix, ["Three colours."])
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    sent = opened(create.files["input_reference"].data)
    assert sent.size == (1280, 720)
    assert [sent.getpixel((640, y)) for y in (5, 714)] == [(255, 0, 0), (0, 0, 255)]
    assert sent.getpixel((100, 360)) == (0, 0, 0)


async def test_a_draft_image_is_fitted_when_the_draft_is_submitted(world: World) -> None:
    await on_openai(world)
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="draft new",
        options={"title": "Flags"},
    )
    await world.wait_reply(ix)
    draft = await world.bot.store.drafts.get(1)
    photo = world.fd.attachment("IMG_3001.JPG", turned_bands(), "image/jpeg")
    await world.use_as_reference(photo, str(draft.id))
    stored = await world.bot.store.drafts.image(draft.id)
    assert stored is not None
    # Attached: upright and clean, its own shape (the settings may still change).
    assert opened(stored.data).size == (600, 800)

    add = await world.fd.press_button(
        draft.panel_message_id or 0, f"sbd:add:{draft.id}", user=world.std.alice
    )
    await add.wait_callback()
    await (await world.fd.submit_modal(add, {"scene": "A flag.", "duration": ""})).wait_callback()
    submit = await world.fd.press_button(
        draft.panel_message_id or 0, f"sbd:submit:{draft.id}", user=world.std.alice
    )
    await world.wait_reply(submit)
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.fields["size"] == "1280x720"
    sent = opened(create.files["input_reference"].data)
    assert sent.size == (1280, 720)
    assert corner(sent, "top-right", inset=4) == "red"
    assert corner(sent, "bottom-left", inset=4) == "blue"
