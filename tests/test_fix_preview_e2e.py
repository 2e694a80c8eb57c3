"""Watch timing (issue 17) end to end: a quick storyboard refused for its timing, played to
the member as they timed it.

What the member sees: beside Fix, a Watch timing button; pressing it sends them alone an
MP4 that plays their shots for the lengths they wrote, in the video's orientation, its bar
red past the real video's end (or a last card for the seconds no shot fills), over their
image when the form had one; at most one a minute; nothing asked of the video service.
Only the member who typed it, in the same server, where they still see the channel.
"""

from __future__ import annotations

import io

import av
import pytest
from av.video.frame import VideoFrame
from PIL import Image

from bot.animatic import FILL, OVER, TRACK
from bot.i18n import t
from cogs.fix_preview import EVERY_SECONDS
from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import Member
from tests.fake_provider import Fault
from tests.harness import World, followup_text, png_bytes
from tests.test_fix_e2e import press_as, reply_buttons
from tests.test_governance_e2e import with_guild
from tests.test_isolation_e2e import add_private_channel, revoke, text_of
from tests.test_moderation_e2e import REAL_PERSON, refusal_body
from tests.test_money_e2e import button_ids
from tests.test_preview_e2e import answered, video_facts

FPS = 12
EPHEMERAL = 64


def timing_button(sub: InteractionHandle) -> tuple[dict[str, object], str]:
    for message in [sub.original_message, *sub.followups]:
        if message is None:
            continue
        ids = [i for i in button_ids(message) if i.startswith("sb:fixtime:")]
        if ids:
            return message, ids[0]
    raise AssertionError(f"no Watch timing button under {followup_text(sub)!r}")


async def press_timing(world: World, sub: InteractionHandle, user: Member | None = None) -> str:
    """Press Watch timing under the refusal; what the member was told."""
    message, custom_id = timing_button(sub)
    ix = await world.fd.press_button(message, custom_id, user=user or world.std.alice)
    await ix.wait_callback()
    return await answered(world, ix)


def previews_sent(world: World) -> list[tuple[str, bytes, dict[str, object]]]:
    """Every MP4 the bot sent as an interaction followup: name, bytes, message body."""
    out = []
    for call in world.fd.calls:
        if call.params.get("webhook_token") and call.files and call.status in (200, 204):
            for name, data in call.files:
                if name.endswith(".mp4"):
                    out.append((name, data, call.json if isinstance(call.json, dict) else {}))
    return out


def frame_at(data: bytes, second: float) -> Image.Image:
    """The picture shown `second` s into the video."""
    with av.open(io.BytesIO(data)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            assert isinstance(frame, VideoFrame)
            if number >= second * FPS:
                return frame.to_image()
    raise AssertionError(f"the video is shorter than {second} s")


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel, colour, strict=False))


def bar(picture: Image.Image, share: float) -> tuple[int, ...]:
    """The bar's colour at `share` of the width (the bottom row of pixels)."""
    x = min(picture.width - 1, int(picture.width * share))
    return tuple(picture.getpixel((x, picture.height - 2)))  # type: ignore[arg-type]


async def refused_for_timing(
    world: World, texts: list[str], *, seconds: int = 10, **where: object
) -> InteractionHandle:
    ix = await world.open_storyboard(shots=len(texts), seconds=seconds, **where)  # type: ignore[arg-type]
    return await world.submit(ix, texts)


async def test_watch_timing_plays_the_shots_as_written_red_past_the_end(world: World) -> None:
    sub = await refused_for_timing(world, ["[5s] A door opens.", "[8s] A cat walks out."])
    text = followup_text(sub)
    assert text.startswith("The shots add up to 13 s but the video is 10 s.")
    assert t("fix.hint_timing", "en-US") in text
    assert [i.split(":")[1] for i in reply_buttons(sub)] == ["fix", "fixtime"]

    said = await press_timing(world, sub)
    assert said == t("fix.preview_posted", "en-US", total=13, video=10)
    [(name, data, body)] = previews_sent(world)
    assert name.endswith(".mp4")
    assert int(str(body.get("flags", 0))) & EPHEMERAL  # to her alone
    assert body["allowed_mentions"] == {"parse": []}
    width, height, rate, frames = video_facts(data)
    assert (width, height, rate) == (1280, 720, FPS)
    assert abs(frames - 13 * FPS) <= 2  # as written, a frame per shot either way
    # Before the video's end the bar fills in its colour; past it, red.
    early, late = frame_at(data, 6), frame_at(data, 12.5)
    assert near(bar(early, 0.4), FILL)
    assert near(bar(early, 0.9), TRACK)
    assert near(bar(late, 0.7), FILL)
    assert near(bar(late, 0.9), OVER)
    assert world.provider.requests == []  # no video service was asked anything


async def test_seconds_no_shot_fills_get_a_card_of_their_own(world: World) -> None:
    sub = await refused_for_timing(world, ["[3s] A lantern.", "[4s] It goes out."])
    assert "The shots add up to 7 s but the video is 10 s." in followup_text(sub)
    await press_timing(world, sub)
    [(_, data, _)] = previews_sent(world)
    _, _, _, frames = video_facts(data)
    assert abs(frames - 10 * FPS) <= 3  # the video's length: 7 s of shots, a 3 s card
    # The card is on the plain background, whatever the shots were over; no red bar.
    last = frame_at(data, 9.5)
    assert near(last.getpixel((1100, 360)), (48, 52, 66), slack=12)  # type: ignore[arg-type]
    assert not near(bar(last, 0.99), OVER)


async def test_watch_timing_shows_the_forms_image(world: World) -> None:
    image = world.fd.attachment("kite.png", png_bytes(colour="purple"), "image/png")
    ix = await world.open_storyboard(shots=2, seconds=10)
    sub = await world.submit(ix, ["[5s] A kite.", "[8s] It flies."], image=image)
    await world.restart()  # the button and the kept image outlive the process
    await press_timing(world, sub)
    [(_, data, _)] = previews_sent(world)
    picture = frame_at(data, 1)
    assert near(picture.getpixel((1100, 300)), (128, 0, 128))  # type: ignore[arg-type]


async def test_one_timing_preview_a_minute_per_member(world: World) -> None:
    first = await refused_for_timing(world, ["[5s] One.", "[8s] Two."])
    second = await refused_for_timing(world, ["[9s] Three.", "[9s] Four."])
    before = world.fd.world.wall_now()
    await press_timing(world, first)
    after = world.fd.world.wall_now()
    soon = await press_timing(world, second)
    assert soon.startswith("One timing preview a minute: the next can be made <t:")
    when = int(soon.split("<t:")[1].split(":")[0])
    assert int(before + EVERY_SECONDS) <= when <= after + EVERY_SECONDS
    assert len(previews_sent(world)) == 1
    world.fd.advance_clock(EVERY_SECONDS + 1)
    await press_timing(world, second)
    assert len(previews_sent(world)) == 2
    # Another member is not held up by her minute.
    bobs = await refused_for_timing(world, ["[6s] Bob's.", "[6s] Shots."], user=world.std.bob)
    await press_timing(world, bobs, world.std.bob)
    assert len(previews_sent(world)) == 3


async def test_a_shot_written_longer_than_the_video_is_shown_for_the_videos_length(
    world: World,
) -> None:
    """A member can type any number of seconds (`[99999999s]`): played as written, that
    was a render of that length, holding a transcode slot (which paid deliveries wait
    for) for as long. A shot is shown at most for the whole video's length, and its note
    says what was written; the reply still counts the seconds as written."""
    sub = await refused_for_timing(world, ["[2s] A door opens.", "[120s] A very long walk."])
    assert followup_text(sub).startswith("The shots add up to 122 s but the video is 10 s.")
    said = await press_timing(world, sub)
    assert said == t("fix.preview_posted", "en-US", total=122, video=10)
    [(_, data, _)] = previews_sent(world)
    _, _, _, frames = video_facts(data)
    assert abs(frames - 12 * FPS) <= 2  # 2 s, then the long shot for the video's 10 s


async def test_other_refusals_offer_no_watch_timing(world: World) -> None:
    world.provider.inject(
        Fault(route="create", kind="status", status=400, body=refusal_body(REAL_PERSON))
    )
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A famous actor waves."])
    assert "sb:fix:" in " ".join(reply_buttons(sub))  # Fix, but nothing to time
    assert not [i for i in reply_buttons(sub) if i.startswith("sb:fixtime:")]
    assert t("fix.hint_timing", "en-US") not in followup_text(sub)


# Only the member who typed it, in the same server, where they still see the channel


def refused_as_missing(ix: InteractionHandle, who: Member) -> None:
    assert text_of(ix) == t("fix.not_found", who.locale)


@pytest.mark.parametrize("who", ["bob", "mod"])
async def test_watch_timing_of_another_member_is_not_found(world: World, who: str) -> None:
    sub = await refused_for_timing(world, ["[4s] A secret lantern."])
    _, custom_id = timing_button(sub)
    member = world.std.bob if who == "bob" else world.mod
    refused_as_missing(await press_as(world, member, world.std.text, custom_id), member)
    assert previews_sent(world) == []


async def test_watch_timing_from_another_guild_is_not_found(world: World) -> None:
    ix = await world.open_storyboard(
        world.carol, channel=world.second_channel, shots=1, seconds=10, guild=world.second
    )
    sub = await world.submit(ix, ["[4s] A secret lantern."])
    _, custom_id = timing_button(sub)
    refused_as_missing(
        await press_as(world, world.carol, world.no_key_channel, custom_id), world.carol
    )
    refused_as_missing(
        await press_as(world, world.std.alice, world.std.text, custom_id), world.std.alice
    )
    assert previews_sent(world) == []


async def test_watch_timing_in_a_channel_she_no_longer_sees_is_not_found(world: World) -> None:
    private = await add_private_channel(world)
    ix = await world.open_storyboard(world.std.alice, channel=private, shots=1, seconds=10)
    sub = await world.submit(ix, ["[4s] A secret lantern."])
    _, custom_id = timing_button(sub)
    await revoke(world, private, world.std.alice)
    refused_as_missing(
        await press_as(world, world.std.alice, world.std.text, custom_id), world.std.alice
    )
    assert previews_sent(world) == []


async def test_watch_timing_follows_the_servers_access_rules(world: World) -> None:
    sub = await refused_for_timing(world, ["[4s] A lantern."])
    world.bot.config = with_guild(world, allowed_channel_ids=[1_200_000_000_000_000_999])
    said = await press_timing(world, sub)
    assert said.startswith("The bot can only be used in <#1200000000000000999>")
    assert previews_sent(world) == []
    world.bot.config = with_guild(world)
    assert await press_timing(world, sub) == t("fix.preview_posted", "en-US", total=4, video=10)


@pytest.mark.parametrize("echo", ["999", "99999999999999999999"])
async def test_watch_timing_of_nothing_is_not_found(world: World, echo: str) -> None:
    ix = await press_as(world, world.std.alice, world.std.text, f"sb:fixtime:{echo}")
    refused_as_missing(ix, world.std.alice)
    assert previews_sent(world) == []
