"""A draft's Watch preview button end to end: the animatic posted in the draft's thread.

What members see: an MP4 in the thread that plays for the draft's length in its
orientation, a line saying no video service was used, at most one render a minute per
draft (held in the store, so across a restart), a link instead of a second render of an
unchanged draft, and refusals for those who may not press or a draft that can't be shown.
"""

from __future__ import annotations

import asyncio
import io
from fractions import Fraction

import av
import pytest

from bot.animatic import FPS
from bot.drafts import Draft
from bot.i18n import t
from bot.transcoder import PAID
from cogs.draft.animatic_preview import PREVIEW_EVERY_SECONDS
from tests.fake_discord import InteractionHandle, RecordedCall
from tests.fake_discord.models import Member, Overwrite, Perm
from tests.harness import SEND, World
from tests.test_delivery_refused_e2e import deny_bot, expect_refusals
from tests.test_drafts_e2e import add_shot, current, new_draft, press
from tests.test_isolation_e2e import forged_message, text_of

SCENES = ("The fridge door opens.", "冰箱里走出一只紫色的怪物。", "It waves at the camera.")


def posts_in(world: World, draft: Draft) -> list[RecordedCall]:
    """Messages the bot posted in the draft's thread with a file: the previews (a post
    Discord refused is not one)."""
    return [
        c
        for c in world.fd.calls_to(SEND)
        if c.params["channel_id"] == str(draft.thread_id) and c.files and c.status == 200
    ]


async def answered(world: World, ix: InteractionHandle) -> str:
    """The member's answer, once it is final (a deferred press gets a followup)."""
    assert ix.callback is not None
    if ix.callback.get("type") == 5:
        await world.wait_reply(ix)
    return text_of(ix)


async def draft_with_shots(world: World, *durations: str) -> Draft:
    draft = await new_draft(world)
    for scene, duration in zip(SCENES, durations, strict=False):
        await add_shot(world, draft, world.std.alice, scene, duration)
    return await current(world, draft)


def video_facts(data: bytes) -> tuple[int, int, Fraction, int]:
    """Width, height, frame rate and frames, decoded (every frame) with PyAV."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        rate = stream.average_rate
        assert rate is not None
        return stream.width, stream.height, Fraction(rate), frames


def link_to(world: World, draft: Draft, post: RecordedCall) -> str:
    message_id = post.response["id"]
    return f"https://discord.com/channels/{draft.guild_id}/{draft.thread_id}/{message_id}"


def assert_plays(post: RecordedCall, seconds: int, shots: int, size: tuple[int, int]) -> None:
    [(name, data)] = post.files
    assert name.endswith(".mp4")
    width, height, rate, frames = video_facts(data)
    assert (width, height) == size
    assert rate == FPS
    # The draft's length, give or take a frame per shot.
    assert abs(frames - seconds * FPS) <= shots


@pytest.mark.parametrize(
    ("orientation", "size"), [("landscape", (1280, 720)), ("portrait", (720, 1280))]
)
async def test_preview_posts_the_animatic_in_the_thread(
    world: World, orientation: str, size: tuple[int, int]
) -> None:
    draft = await draft_with_shots(world, "5", "", "")
    if orientation != draft.settings.orientation:
        settings = await press(world, draft, "settings", world.std.alice)
        await (
            await world.fd.submit_modal(settings, {"orientation": [orientation]})
        ).wait_callback()
        draft = await current(world, draft)
    assert draft.settings.orientation == orientation
    bob = world.std.bob  # reads Chinese; the thread is the server's (English)
    ix = await press(world, draft, "animatic", bob)
    text = await answered(world, ix)
    [post] = posts_in(world, draft)
    assert post.json["content"] == (
        f"Preview of draft #{draft.id}, version {draft.version}: 3 shots, 15 s"
        " — no video service was used."
    )
    assert post.json["allowed_mentions"]["parse"] == []
    assert_plays(post, 15, 3, size)
    assert text == t("draft.animatic_done", "zh-CN", link=link_to(world, draft, post))
    assert world.provider.requests == []  # no video service was asked anything


async def started_at(world: World) -> float:
    [row] = await world.sql("SELECT started_at FROM draft_previews")
    return float(row["started_at"])


def wait_text(locale: str, started: float) -> str:
    when = f"<t:{int(started + PREVIEW_EVERY_SECONDS)}:R>"
    return t("draft.animatic_wait", locale, when=when)


async def test_the_rate_limit_holds_and_an_unchanged_draft_links_to_its_preview(
    world: World,
) -> None:
    alice, bob = world.std.alice, world.std.bob
    draft = await draft_with_shots(world, "", "", "")
    await answered(world, await press(world, draft, "animatic", alice))
    [first] = posts_in(world, draft)
    started = await started_at(world)

    # Unchanged: a link to the preview, nothing rendered.
    again = await press(world, draft, "animatic", bob)
    assert text_of(again) == t("draft.animatic_same", "zh-CN", link=link_to(world, draft, first))

    # Changed within the minute: refused, with when the next can be made.
    await add_shot(world, draft, bob, "A fourth shot.", "")
    soon = await press(world, draft, "animatic", bob)
    assert text_of(soon) == wait_text("zh-CN", started)
    assert posts_in(world, draft) == [first]

    # The minute passed and the draft changed: rendered again.
    world.fd.advance_clock(PREVIEW_EVERY_SECONDS + 1)
    await answered(world, await press(world, draft, "animatic", alice))
    [_, second] = posts_in(world, draft)
    assert "4 shots, 15 s" in second.json["content"]
    assert_plays(second, 15, 4, (1280, 720))
    started = await started_at(world)

    # Both the last preview and the limit are in the store: a restart keeps them.
    await world.restart()
    same = await press(world, draft, "animatic", alice)
    assert text_of(same) == t("draft.animatic_same", "en-US", link=link_to(world, draft, second))
    await add_shot(world, draft, alice, "A fifth shot.", "")
    soon = await press(world, draft, "animatic", alice)
    assert text_of(soon) == wait_text("en-US", started)
    assert posts_in(world, draft) == [first, second]


async def test_a_double_click_posts_once(world: World) -> None:
    draft = await draft_with_shots(world, "", "", "")
    custom_id = f"sbd:animatic:{draft.id}"
    first, second = await asyncio.gather(
        world.fd.press_button(draft.panel_message_id or 0, custom_id, user=world.std.alice),
        world.fd.press_button(draft.panel_message_id or 0, custom_id, user=world.std.alice),
    )
    await first.wait_callback()
    await second.wait_callback()
    texts = sorted([await answered(world, first), await answered(world, second)])
    [post] = posts_in(world, draft)
    link = link_to(world, draft, post)
    done = t("draft.animatic_done", "en-US", link=link)
    # The other press came while the render ran, or after it was posted.
    other = next(text for text in texts if text != done)
    assert done in texts
    assert other in (
        t("draft.animatic_rendering", "en-US"),
        t("draft.animatic_same", "en-US", link=link),
    )


async def test_a_draft_with_no_shots_cant_be_previewed_and_says_why(world: World) -> None:
    draft = await draft_with_shots(world)
    ix = await press(world, draft, "animatic", world.std.alice)
    assert ix.callback is not None
    assert ix.callback["data"]["flags"] & 64  # ephemeral
    reason = t("storyboard.no_shots", "en-US")
    assert text_of(ix) == t("draft.animatic_problem", "en-US", reason=reason)
    assert posts_in(world, draft) == []
    assert await world.sql("SELECT * FROM draft_previews") == []


async def test_a_draft_whose_lengths_overrun_the_video_plays_as_written(world: World) -> None:
    """10 s + 10 s for a 15 s video: the panel says what to change; the preview plays the
    20 s as written, red on the bar past the 15 s the video will have, so the thread sees
    which shot is cut."""
    draft = await draft_with_shots(world, "10", "10")
    assert draft.timing_problem() is not None
    await answered(world, await press(world, draft, "animatic", world.std.alice))
    [post] = posts_in(world, draft)
    assert post.json["content"] == (
        f"Preview of draft #{draft.id}, version {draft.version}, played as written: 20 s of"
        " shots for a 15 s video (red on the bar is past its end) — no video service was used."
    )
    assert_plays(post, 20, 2, (1280, 720))


async def test_a_busy_transcoder_is_answered_and_the_next_press_renders(world: World) -> None:
    draft = await draft_with_shots(world, "", "", "")
    transcoder = world.bot.transcoder  # every slot taken by a long (paid) transcode
    for _ in range(transcoder.slots):
        await transcoder._acquire(PAID)
    try:
        ix = await press(world, draft, "animatic", world.std.alice)
        assert await answered(world, ix) == t("draft.animatic_busy", "en-US")
        assert posts_in(world, draft) == []
    finally:
        for _ in range(transcoder.slots):
            transcoder._release()
    # The busy press did not use up the draft's minute.
    await answered(world, await press(world, draft, "animatic", world.std.alice))
    assert len(posts_in(world, draft)) == 1


def deny(world: World, member: Member, perms: int) -> None:
    world.std.text.overwrites.append(Overwrite(member.id, type=1, deny=perms))


async def test_only_members_who_can_post_in_the_thread_may_preview(world: World) -> None:
    draft = await draft_with_shots(world, "", "", "")
    not_found = t("draft.not_found", "en-US", draft=draft.id)

    # Another guild's member, pressing a forged button in their own channel.
    custom_id = f"sbd:animatic:{draft.id}"
    button = {"type": 2, "style": 2, "label": "press", "custom_id": custom_id}
    forged = forged_message(world, world.second_channel, button)
    ix = await world.fd.press_button(forged, custom_id, user=world.carol)
    await ix.wait_callback()
    assert text_of(ix) == not_found

    # A member who can read the thread but not post in it.
    deny(world, world.mod, Perm.SEND_MESSAGES_IN_THREADS | Perm.SEND_MESSAGES)
    ix = await press(world, draft, "animatic", world.mod)
    assert text_of(ix) == t("draft.cannot_post", "en-US")

    # A member who can't see the thread at all: as if there were no such draft.
    deny(world, world.mod, Perm.VIEW_CHANNEL)
    ix = await press(world, draft, "animatic", world.mod)
    assert text_of(ix) == not_found

    assert posts_in(world, draft) == []
    assert await world.sql("SELECT * FROM draft_previews") == []


async def test_a_thread_the_bot_may_not_attach_to_is_answered_and_keeps_the_minute(
    world: World,
) -> None:
    draft = await draft_with_shots(world, "", "", "")
    deny_bot(world, Perm.ATTACH_FILES)
    for _ in range(3):  # pressed again and again: each refused before any render
        ix = await press(world, draft, "animatic", world.std.alice)
        assert await answered(world, ix) == t("draft.animatic_not_posted", "en-US")
    expect_refusals(world)
    assert posts_in(world, draft) == []
    assert not [c for c in world.fd.calls_to(SEND) if c.files]  # no render tried to post
    # Nothing was posted, so nothing counts: once allowed, the next press renders.
    world.std.text.overwrites.pop()
    await answered(world, await press(world, draft, "animatic", world.std.alice))
    assert len(posts_in(world, draft)) == 1
