"""Reference images end to end on the relay profile: what the provider receives from a
member's phone photo (upright, no location), a HEIC photo, and a relay configured to
need the video's exact size."""

from __future__ import annotations

from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import World, followup_text
from tests.photos import (
    COMMENT,
    bands,
    encoded,
    heic,
    marker_corners,
    metadata_of,
    opened,
    phone_jpeg,
)


async def test_a_phone_photo_reaches_the_provider_upright_without_its_location(
    world: World,
) -> None:
    photo = phone_jpeg((400, 300), orientation=6)
    assert "exif" in metadata_of(photo)
    ix = await world.open_storyboard(shots=1, seconds=10)
    upload = world.fd.attachment("IMG_2041.JPG", photo, "image/jpeg")
    sub = await world.submit(ix, ["A walk by the river."], image=upload)
    assert "is queued" in followup_text(sub)
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    ref = create.files["input_reference"]
    assert (ref.filename, ref.content_type) == ("IMG_2041.jpg", "image/jpeg")
    assert metadata_of(ref.data) == {}
    for trace in (b"Exif", b"GPS", b"xmpmeta", COMMENT, b"PhoneMaker"):
        assert trace not in ref.data
    sent = opened(ref.data)
    # The relay takes any size: the photo keeps its own shape, turned upright.
    assert sent.size == (300, 400)
    assert marker_corners(sent) == ["top-right"]
    # What is kept for "Edit & redo" is what was sent.
    [job] = await world.jobs()
    stored = await world.bot.store.job_image(job.id)
    assert stored is not None
    assert stored.data == ref.data


async def test_a_heic_photo_is_accepted_and_sent_as_jpeg(world: World) -> None:
    image = world.fd.attachment("IMG_0001.HEIC", heic((128, 64), orientation=6), "image/heic")
    ix = await world.open_storyboard(image=image, shots=1, seconds=10)
    sub = await world.submit(ix, ["A red kite."])
    assert "is queued" in followup_text(sub)
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    ref = create.files["input_reference"]
    assert (ref.filename, ref.content_type) == ("IMG_0001.jpg", "image/jpeg")
    sent = opened(ref.data)
    assert (sent.format, sent.size) == ("JPEG", (64, 128))
    assert marker_corners(sent) == ["top-right"]
    assert metadata_of(ref.data) == {}


async def test_an_image_put_in_a_draft_is_stored_without_its_location(world: World) -> None:
    """A draft holds its image for days in SQLite: already stripped when attached."""
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="draft new",
        options={"title": "River walk"},
    )
    await world.wait_reply(ix)
    photo = world.fd.attachment("IMG_2041.JPG", phone_jpeg(), "image/jpeg")
    await world.use_as_reference(photo, "1")
    stored = await world.bot.store.drafts.image(1)
    assert stored is not None
    assert stored.filename == "IMG_2041.jpg"
    assert metadata_of(stored.data) == {}
    assert b"GPS" not in stored.data
    assert marker_corners(opened(stored.data)) == ["top-right"]


async def test_a_relay_configured_to_need_the_exact_size_gets_it(world: World) -> None:
    """`image_exact_size = true` for a guild whose relay forwards to OpenAI."""
    config = world.config_with(
        guilds={str(GUILD_ID): {"api_key": GUILD_A_KEY, "image_exact_size": True}},
    )
    await world.restart(config)
    square = encoded(bands((900, 900), ("red", "green", "blue")), "PNG")
    image = world.fd.attachment("square.png", square, "image/png")
    ix = await world.open_storyboard(image=image, shots=1, seconds=10)
    await world.submit(ix, ["Three colours."])
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.fields["size"] == "1280x720"
    sent = opened(create.files["input_reference"].data)
    assert sent.size == (1280, 720)
    assert sent.getpixel((640, 360)) == (0, 128, 0)
