"""Collaborative drafts end to end: three members in one thread, the panel, restarts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.drafts import Draft
from bot.errors import StoryboardError
from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import Member
from tests.harness import SEND, World, followup_text, png_bytes

THREAD_WITHOUT_MESSAGE = "POST /channels/{channel_id}/threads"
EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"


async def new_draft(world: World, title: str = "The fridge monster") -> Draft:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="draft new",
        options={"title": title},
    )
    await world.wait_reply(ix)
    [draft] = [await world.bot.store.drafts.get(1)]
    assert f"<#{draft.thread_id}>" in followup_text(ix)
    return draft


def panel_of(world: World, draft: Draft) -> dict[str, Any]:
    return world.fd.messages[draft.panel_message_id or 0]


def panel_text(world: World, draft: Draft) -> str:
    embed = panel_of(world, draft)["embeds"][0]
    return (
        embed.get("description", "")
        + "\n"
        + "\n".join(f"{f['name']}: {f['value']}" for f in embed["fields"])
    )


async def press(world: World, draft: Draft, action: str, user: Member) -> InteractionHandle:
    ix = await world.fd.press_button(
        draft.panel_message_id or 0, f"sbd:{action}:{draft.id}", user=user
    )
    await ix.wait_callback()
    return ix


async def add_shot(
    world: World, draft: Draft, user: Member, scene: str, duration: str = ""
) -> InteractionHandle:
    ix = await press(world, draft, "add", user)
    sub = await world.fd.submit_modal(ix, {"scene": scene, "duration": duration})
    await sub.wait_callback()
    return sub


async def pick(
    world: World, draft: Draft, action: str, user: Member, number: int
) -> InteractionHandle:
    """Press Edit/Remove/Move, then choose shot `number` in the ephemeral picker."""
    ix = await press(world, draft, action, user)
    picker = ix.original_message
    assert picker is not None, ix.callback
    options = picker["components"][0]["components"][0]["options"]
    chosen = await world.fd.select(
        picker, f"sbdp:{action}:{draft.id}", [options[number - 1]["value"]], user=user
    )
    await chosen.wait_callback()
    return chosen


def reply_of(ix: InteractionHandle) -> str:
    assert ix.callback is not None
    data = ix.callback.get("data") or {}
    return str(data.get("content", "")) + followup_text(ix)


async def current(world: World, draft: Draft) -> Draft:
    return await world.bot.store.drafts.get(draft.id)


async def test_a_draft_opens_a_thread_with_its_panel(world: World) -> None:
    draft = await new_draft(world)
    [thread_call] = world.fd.calls_to(THREAD_WITHOUT_MESSAGE)
    assert thread_call.json["name"] == "The fridge monster"
    panel = panel_of(world, draft)
    assert panel["channel_id"] == str(draft.thread_id)
    assert panel["embeds"][0]["title"] == "Draft: The fridge monster"
    ids = [c["custom_id"] for row in panel["components"] for c in row["components"]]
    assert ids == [
        f"sbd:{a}:{draft.id}"
        for a in (
            "add",
            "edit",
            "remove",
            "up",
            "down",
            "settings",
            "image",
            "preview",
            "submit",
            "discard",
            "animatic",
        )
    ]


async def test_three_members_build_submit_and_nothing_is_lost(world: World) -> None:
    alice, bob, admin = world.std.alice, world.std.bob, world.std.admin
    draft = await new_draft(world)

    # Two members add at the same moment: both shots are kept.
    ix_a = await press(world, draft, "add", alice)
    ix_b = await press(world, draft, "add", bob)
    subs = await asyncio.gather(
        world.fd.submit_modal(ix_a, {"scene": "The fridge door opens.", "duration": "5"}),
        world.fd.submit_modal(ix_b, {"scene": "A purple monster steps out.", "duration": "5s"}),
    )
    for sub in subs:
        await sub.wait_callback()
    await add_shot(world, draft, admin, "It waves at the camera.")
    draft = await current(world, draft)
    assert {(s.scene, s.author_id) for s in draft.shots} == {
        ("The fridge door opens.", alice.id),
        ("A purple monster steps out.", bob.id),
        ("It waves at the camera.", admin.id),
    }
    await world.wait_until(lambda: "It waves at the camera." in panel_text(world, draft))
    text = panel_text(world, draft)
    assert f"(by <@{bob.id}>)" in text
    assert "~5 s: It waves at the camera." in text

    # The admin (no draft role) may not edit bob's shot.
    bobs = next(n for n, s in enumerate(draft.shots, start=1) if s.author_id == bob.id)
    refused = await pick(world, draft, "edit", admin, bobs)
    assert f"was written by <@{bob.id}>" in reply_of(refused)

    # Alice (the owner) opens bob's shot; bob changes it meanwhile; alice's edit is refused.
    alice_edit = await pick(world, draft, "edit", alice, bobs)
    assert alice_edit.modal is not None
    bob_edit = await pick(world, draft, "edit", bob, bobs)
    sub = await world.fd.submit_modal(
        bob_edit, {"scene": "A green monster steps out.", "duration": "5"}
    )
    await sub.wait_callback()
    stale = await world.fd.submit_modal(alice_edit, {"scene": "Alice's version.", "duration": "5"})
    await stale.wait_callback()
    text = reply_of(stale)
    assert "was changed by someone else" in text
    assert '"A green monster steps out."' in text
    assert "Alice's version." in text  # her text comes back, nothing lost
    draft = await current(world, draft)
    assert draft.shots[bobs - 1].scene == "A green monster steps out."

    # Reorder: the last shot moves up.
    moved = await pick(world, draft, "up", admin, 3)
    assert "Shot 3 is now shot 2." in reply_of(moved)
    draft = await current(world, draft)
    assert [s.scene for s in draft.shots] == [
        "The fridge door opens.",
        "It waves at the camera.",
        "A green monster steps out.",
    ]

    # Settings that break the total: the panel says so and Submit is refused with the reason.
    settings = await press(world, draft, "settings", alice)
    sub = await world.fd.submit_modal(settings, {"seconds": ["10"]})
    await sub.wait_callback()
    assert "Settings saved." in reply_of(sub)
    draft = await current(world, draft)
    assert draft.settings.seconds == 10
    await world.wait_until(lambda: "⚠" in panel_text(world, draft))
    refused = await press(world, draft, "submit", alice)
    await world.wait_reply(refused)
    assert "leaving too little" in reply_of(refused)
    assert world.provider.requests_to("create") == []

    # Only the owner submits; then exactly one job, its card in the thread, the draft locked.
    settings = await press(world, draft, "settings", alice)
    await (await world.fd.submit_modal(settings, {"seconds": ["15"]})).wait_callback()
    not_owner = await press(world, draft, "submit", bob)
    assert "只有" in reply_of(not_owner)
    first, second = await asyncio.gather(
        world.fd.press_button(draft.panel_message_id or 0, f"sbd:submit:{draft.id}", user=alice),
        world.fd.press_button(draft.panel_message_id or 0, f"sbd:submit:{draft.id}", user=alice),
    )
    await world.wait_reply(first)
    await world.wait_reply(second)
    assert len(world.provider.requests_to("create")) == 1
    [create] = world.provider.requests_to("create")
    assert create.fields["prompt"] == (
        "Shot 1:\nduration: 5sec\nScene: The fridge door opens.\n\n"
        "Shot 2:\nduration: 5sec\nScene: It waves at the camera.\n\n"
        "Shot 3:\nduration: 5sec\nScene: A green monster steps out."
    )
    cards = [
        c
        for c in world.fd.calls_to(SEND)
        if c.json.get("embeds")
        and c.params["channel_id"] == str(draft.thread_id)
        and c.json["embeds"][0]["title"] == "Storyboard video"
    ]
    assert len(cards) == 1
    draft = await current(world, draft)
    assert draft.state == "submitted"
    assert draft.job_id == 1
    await world.wait_until(
        lambda: (
            [
                c["custom_id"]
                for row in panel_of(world, draft)["components"]
                for c in row["components"]
            ]
            == [f"sbd:duplicate:{draft.id}"]
        )
    )
    late = await press(world, draft, "duplicate", bob)
    await world.wait_reply(late)
    copy = await world.bot.store.drafts.get(2)
    assert (copy.owner_id, copy.state, len(copy.shots)) == (bob.id, "open", 3)


async def test_panel_buttons_work_after_a_restart(world: World) -> None:
    draft = await new_draft(world)
    await add_shot(world, draft, world.std.alice, "Before the restart.")
    await world.restart()
    sub = await add_shot(world, draft, world.std.bob, "After the restart.")
    assert "已添加镜头 2" in reply_of(sub)
    draft = await current(world, draft)
    assert [s.scene for s in draft.shots] == ["Before the restart.", "After the restart."]


async def test_use_as_reference_image_on_a_message_with_and_without_an_image(world: World) -> None:
    draft = await new_draft(world)
    photo = world.fd.attachment("sunset.png", png_bytes((48, 27), "orange"), "image/png")
    with_image = world.member_message(world.std.text, world.std.bob, "look at this", [photo])
    without = world.member_message(world.std.text, world.std.bob, "no picture here")

    ix = await world.fd.run_message_context_menu(
        "Use as reference image", without, user=world.std.alice
    )
    await ix.wait_callback()
    assert "has no image attached" in reply_of(ix)

    ix = await world.fd.run_message_context_menu(
        "Use as reference image", with_image, user=world.std.alice
    )
    await world.wait_reply(ix)
    picker = ix.original_message
    assert picker is not None
    custom_id = picker["components"][0]["components"][0]["custom_id"]
    chosen = await world.fd.select(picker, custom_id, [str(draft.id)], user=world.std.alice)
    await chosen.wait_callback()
    assert "Reference image set: sunset.png." in reply_of(chosen)
    image = await world.bot.store.drafts.image(draft.id)
    assert image is not None
    assert image.data == png_bytes((48, 27), "orange")

    # The same image straight into a quick storyboard.
    ix = await world.fd.run_message_context_menu(
        "Use as reference image", with_image, user=world.std.alice
    )
    await world.wait_reply(ix)
    picker = ix.original_message
    assert picker is not None
    custom_id = picker["components"][0]["components"][0]["custom_id"]
    chosen = await world.fd.select(picker, custom_id, ["quick"], user=world.std.alice)
    await chosen.wait_callback()
    assert chosen.modal is not None
    labels = [c["label"] for c in chosen.modal["components"]]
    assert "Reference image (optional)" not in labels
    sub = await world.submit(chosen, ["A", "B", "C"])
    [create] = world.provider.requests_to("create")
    assert create.files["input_reference"].data == png_bytes((48, 27), "orange")
    assert "is queued" in followup_text(sub)


async def test_idle_drafts_are_archived_not_deleted(world: World) -> None:
    draft = await new_draft(world)
    await add_shot(world, draft, world.std.alice, "Soon forgotten.")
    from cogs.draft.commands import DraftCog

    cog = world.bot.get_cog("DraftCog")
    assert isinstance(cog, DraftCog)
    assert await cog.archive_now() == []
    await world.sql("UPDATE drafts SET updated_at = updated_at - 31 * 86400")
    [archived] = await cog.archive_now()
    assert archived.id == draft.id
    draft = await current(world, draft)
    assert draft.state == "archived"
    assert [s.scene for s in draft.shots] == ["Soon forgotten."]
    await world.wait_until(lambda: "Archived" in panel_text(world, draft))
    buttons = [
        c["custom_id"] for row in panel_of(world, draft)["components"] for c in row["components"]
    ]
    assert buttons == [f"sbd:duplicate:{draft.id}"]


async def test_in_a_forum_the_draft_is_a_post_whose_first_message_is_the_panel(
    world: World,
) -> None:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.forum,
        user=world.std.alice,
        name="draft new",
        options={"title": "Forum draft"},
    )
    await world.wait_reply(ix)
    [post] = world.fd.calls_to(THREAD_WITHOUT_MESSAGE)
    assert post.params["channel_id"] == str(world.std.forum.id)
    assert post.json["name"] == "Forum draft"
    assert post.json["message"]["embeds"][0]["title"] == "Draft: Forum draft"
    draft = await world.bot.store.drafts.get(1)
    assert draft.thread_id == int(post.response["id"])
    sub = await add_shot(world, draft, world.std.alice, "In the forum.")
    assert "Added shot 1." in reply_of(sub)


async def test_a_submitted_draft_refuses_late_shot_changes(world: World) -> None:
    draft = await new_draft(world)
    await add_shot(world, draft, world.std.alice, "Locked soon.")
    draft = await current(world, draft)
    shot = draft.shots[0]
    assert await world.bot.store.drafts.close(draft.id, "submitted")
    drafts = world.bot.store.drafts
    for change in (
        drafts.edit_shot(draft.id, shot.id, seen_version=shot.version, scene="late", duration=None),
        drafts.remove_shot(draft.id, shot.id, seen_version=shot.version),
        drafts.move_shot(draft.id, shot.id, 1),
    ):
        with pytest.raises(StoryboardError) as refused:
            await change
        assert refused.value.key == "draft.is_submitted"
    assert [s.scene for s in (await current(world, draft)).shots] == ["Locked soon."]
