"""Fix (issue 12): a refused quick storyboard offers a button that reopens the form filled
with what the member typed, after a restart too; only for that member, where they still
see the channel; a corrected submit makes exactly one job."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import t
from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import Channel, Member
from tests.fake_provider import Fault
from tests.harness import World, followup_text, png_bytes, replies_to
from tests.test_governance_e2e import with_guild
from tests.test_isolation_e2e import add_private_channel, revoke
from tests.test_money_e2e import button_ids
from tests.test_quota_e2e import resets

MODAL, MESSAGE = 9, 4


def fix_message(sub: InteractionHandle) -> tuple[dict[str, Any], str]:
    """The reply carrying the Fix button, and the button's custom id."""
    for message in replies_to(sub):
        fixes = [i for i in button_ids(message) if i.startswith("sb:fix:")]
        if fixes:
            return message, fixes[0]
    raise AssertionError(f"no Fix button in {replies_to(sub)!r}")


def reply_buttons(sub: InteractionHandle) -> list[str]:
    return [i for m in replies_to(sub) for i in button_ids(m)]


async def press_fix(
    world: World, sub: InteractionHandle, user: Member | None = None
) -> InteractionHandle:
    message, custom_id = fix_message(sub)
    ix = await world.fd.press_button(message, custom_id, user=user or world.std.alice)
    await ix.wait_callback()
    return ix


def field_values(ix: InteractionHandle) -> list[str | None]:
    """The shot fields of the modal the bot answered with, as they open."""
    assert ix.modal is not None, ix.callback
    fields = [c["component"] for c in ix.modal["components"] if c["type"] == 18]
    return [f.get("value") for f in fields if f["custom_id"].startswith("shot_")]


def said(ix: InteractionHandle) -> str:
    """What an answer at once (no modal) said."""
    assert ix.callback_type == MESSAGE, ix.callback
    assert ix.callback is not None
    return str(ix.callback["data"]["content"])


def prompt_sent(world: World, index: int = -1) -> str:
    create = world.provider.requests_to("create")[index]
    assert create.valid, create.errors
    return str(create.fields["prompt"])


# 1. After a bad sum: the form again, with the text; the corrected submit pays once


async def test_fix_after_a_bad_sum_reopens_the_form_with_the_text_and_submits_once(
    world: World,
) -> None:
    ix = await world.open_storyboard(shots=3, seconds=10)
    sub = await world.submit(ix, ["[5s] A door opens.", "", "[8s] A cat walks out."])
    text = followup_text(sub)
    assert text.startswith(
        "The shots add up to 13 s but the video is 10 s. Change shot 2 from 8 s to 5 s,"
    )
    assert t("fix.hint_timing", "en-US") in text
    assert "[8s] A cat walks out." in text  # the echo stays
    assert world.provider.requests_to("create") == []

    fix = await press_fix(world, sub)
    assert fix.callback_type == MODAL
    assert fix.modal is not None
    assert fix.modal["title"] == "10 s · landscape · sora-2"
    # The same three fields as typed, the empty middle one too.
    assert field_values(fix) == ["[5s] A door opens.", None, "[8s] A cat walks out."]
    # Its own request key: the refused submit made and paid nothing.
    assert fix.modal["custom_id"].startswith(f"sb:quick:{fix.id}:")

    first = await world.fd.submit_modal(fix, {"shot_3": "[5s] A cat walks out."})
    again = await world.fd.submit_modal(fix, {"shot_3": "[5s] A cat walks out."})
    await world.wait_reply(first)
    await world.wait_reply(again)
    assert prompt_sent(world) == (
        "Shot 1:\nduration: 5sec\nScene: A door opens.\n\n"
        "Shot 2:\nduration: 5sec\nScene: A cat walks out."
    )
    [job] = await world.jobs()
    assert job.request_key == f"quick:{fix.id}"
    assert len(world.provider.requests_to("create")) == 1
    # The double submit is told it is done already, and is offered no Fix (a new form
    # would pay a second time).
    texts = followup_text(first) + followup_text(again)
    assert f"already submitted (video #{job.id})" in texts
    assert not [i for i in reply_buttons(first) + reply_buttons(again) if "fix" in i]


async def test_fix_of_a_one_line_prompt_splits_its_shots_into_the_form_after_a_restart(
    world: World,
) -> None:
    prompt = "[2s] one | [2s] two | [2s] three | [2s] four | [2s] five | [2s] six"
    sub = await world.open_storyboard(prompt=prompt, seconds=10)
    await world.wait_reply(sub)
    assert "The shots add up to 12 s but the video is 10 s." in followup_text(sub)
    await world.restart()
    fix = await press_fix(world, sub)
    assert fix.modal is not None
    # Four fields at most: the shots past the third go into the last one, in the
    # provider's format, which the form reads back as shots.
    assert field_values(fix) == [
        "[2s] one",
        "[2s] two",
        "[2s] three",
        "Shot 4:\nduration: 2sec\nScene: four\n\nShot 5:\nduration: 2sec\nScene: five"
        "\n\nShot 6:\nduration: 2sec\nScene: six",
    ]
    sub = await world.submit(fix, ["[2s] one", "", "[2s] three"])
    assert "is queued" in followup_text(sub)
    assert prompt_sent(world).count("duration: 2sec") == 5
    [job] = await world.jobs()
    assert job.request_key == f"quick:{fix.id}"


async def test_fix_keeps_the_image_the_form_came_with(world: World) -> None:
    image = world.fd.attachment("kite.png", png_bytes(), "image/png")
    ix = await world.open_storyboard(shots=2, seconds=10)
    sub = await world.submit(ix, ["[5s] A kite.", "[8s] It flies."], image=image)
    assert "Change shot 2 from 8 s to 5 s" in followup_text(sub)
    await world.restart()
    fix = await press_fix(world, sub)
    assert fix.modal is not None
    # The image is kept: no upload field this time, and the video starts from it.
    assert [c["component"]["custom_id"] for c in fix.modal["components"]] == [
        "shot_1",
        "shot_2",
    ]
    await world.submit(fix, ["[5s] A kite.", "[5s] It flies."])
    [create] = world.provider.requests_to("create")
    assert create.files["input_reference"].data == png_bytes()


async def test_fix_after_a_refused_image_asks_for_another_one(world: World) -> None:
    fake = world.fd.attachment("scan.png", b"%PDF-1.7\n1 0 obj <<>> endobj\n", "image/png")
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat."], image=fake)
    assert "not a PNG, JPEG, WebP, HEIC or AVIF image" in followup_text(sub)
    fix = await press_fix(world, sub)
    assert fix.modal is not None
    assert [c["component"]["custom_id"] for c in fix.modal["components"]] == ["shot_1", "image"]
    assert field_values(fix) == ["A cat."]
    done = await world.submit(fix, [], image=world.fd.attachment("cat.png", png_bytes()))
    assert "is queued" in followup_text(done)
    [create] = world.provider.requests_to("create")
    assert create.files["input_reference"].data == png_bytes()


# 2. After a quota refusal: Fix waits for the quota like /storyboard does


async def test_fix_after_a_quota_refusal_opens_once_the_quota_allows(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10)
    # Meanwhile the limit is set and reached (another form of hers went through).
    world.bot.config = with_guild(world, daily_jobs_per_user=1, quota_reset_hour_utc=6)
    await world.submitted_job("The one that counts.")
    sub = await world.submit(ix, ["A second video."])
    refusal = f"You have made your 1 video for today. Your quota resets <t:{resets(world)}:R>."
    assert followup_text(sub).startswith(f"{refusal}\n{t('fix.hint', 'en-US')}")
    # Still over the limit: said at once, no form to type into for nothing.
    early = await press_fix(world, sub)
    assert early.modal is None
    assert said(early) == refusal
    world.bot.config = with_guild(world, daily_jobs_per_user=2, quota_reset_hour_utc=6)
    fix = await press_fix(world, sub)
    assert field_values(fix) == ["A second video."]
    done = await world.submit(fix, [])  # sent as it opened
    assert "is queued" in followup_text(done)
    assert prompt_sent(world) == "Shot 1:\nduration: 10sec\nScene: A second video."
    assert len(world.provider.requests_to("create")) == 2


# 3. No Fix where a new form could pay twice


async def test_an_unclear_create_is_not_a_refusal_and_offers_no_fix(world: World) -> None:
    world.provider.inject(Fault(route="create", kind="status", status=503))
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat on a fence."])
    assert "may or may not have started the video" in followup_text(sub)
    assert t("fix.hint", "en-US") not in followup_text(sub)
    assert not [i for i in reply_buttons(sub) if i.startswith("sb:fix:")]
    assert await world.bot.store.echoes.find(1) is None


# 4. Only the member who typed it, where they still see the channel


async def refused(world: World, user: Member, channel: Channel, **where: Any) -> InteractionHandle:
    ix = await world.open_storyboard(user, channel=channel, shots=1, seconds=10, **where)
    sub = await world.submit(ix, ["[4s] A secret lantern."])
    assert "The shots add up to 4 s" in followup_text(sub)
    return sub


async def press_as(
    world: World, who: Member, channel: Channel, custom_id: str
) -> InteractionHandle:
    """`custom_id` pressed by `who` in `channel` (a forged button: what another member
    could send, since the Fix message itself is ephemeral)."""
    button = {"type": 2, "style": 1, "label": "Fix", "custom_id": custom_id}
    message = world.fd.world.new_message(
        channel_id=channel.id,
        guild_id=channel.guild_id,
        body={"components": [{"type": 1, "components": [button]}]},
        files=[],
    )
    ix = await world.fd.press_button(message, custom_id, user=who)
    await ix.wait_callback()
    return ix


def refused_as_missing(ix: InteractionHandle, who: Member) -> None:
    assert ix.modal is None
    assert said(ix) == t("fix.not_found", who.locale)
    assert "lantern" not in repr(ix.callback)


@pytest.mark.parametrize("who", ["bob", "mod"])
async def test_fix_of_another_member_is_not_found(world: World, who: str) -> None:
    sub = await refused(world, world.std.alice, world.std.text)
    _, custom_id = fix_message(sub)
    member = world.std.bob if who == "bob" else world.mod
    refused_as_missing(await press_as(world, member, world.std.text, custom_id), member)
    # The member who typed it still can.
    assert field_values(await press_as(world, world.std.alice, world.std.text, custom_id)) == [
        "[4s] A secret lantern."
    ]


async def test_fix_from_another_guild_is_not_found(world: World) -> None:
    sub = await refused(world, world.carol, world.second_channel, guild=world.second)
    _, custom_id = fix_message(sub)
    # Carol herself, from another guild she is in; and alice's guild member bob.
    refused_as_missing(
        await press_as(world, world.carol, world.no_key_channel, custom_id), world.carol
    )
    refused_as_missing(
        await press_as(world, world.std.alice, world.std.text, custom_id), world.std.alice
    )
    assert field_values(await press_as(world, world.carol, world.second_channel, custom_id))


async def test_fix_in_a_channel_the_member_no_longer_sees_is_not_found(world: World) -> None:
    private = await add_private_channel(world)
    sub = await refused(world, world.std.alice, private)
    _, custom_id = fix_message(sub)
    assert field_values(await press_as(world, world.std.alice, world.std.text, custom_id))
    await revoke(world, private, world.std.alice)
    refused_as_missing(
        await press_as(world, world.std.alice, world.std.text, custom_id), world.std.alice
    )


@pytest.mark.parametrize("echo", ["999", "99999999999999999999"])
async def test_fix_of_nothing_is_not_found(world: World, echo: str) -> None:
    ix = await press_as(world, world.std.alice, world.std.text, f"sb:fix:{echo}")
    refused_as_missing(ix, world.std.alice)


async def test_fix_follows_the_servers_access_rules(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["[4s] A lantern."])
    world.bot.config = with_guild(world, allowed_channel_ids=[1_200_000_000_000_000_999])
    fix = await press_fix(world, sub)
    assert fix.modal is None
    assert said(fix).startswith("The bot can only be used in <#1200000000000000999>")
    world.bot.config = with_guild(world)
    assert field_values(await press_fix(world, sub)) == ["[4s] A lantern."]


# 5. A form that already made its job is never refused with a Fix (a Fix would pay again)


async def test_a_double_submit_in_the_cooldown_is_already_submitted_not_a_refusal(
    world: World,
) -> None:
    """The second submit of the same form arrives inside the cooldown its first submit
    started: it is the same job, not a quota refusal with a Fix that would pay again."""
    world.bot.config = with_guild(world, cooldown_seconds=600)
    ix = await world.open_storyboard(shots=1, seconds=10)
    first = await world.submit(ix, ["A single cat."])
    again = await world.submit(ix, ["A single cat."])
    [job] = await world.jobs()
    assert "is queued" in followup_text(first)
    assert followup_text(again).startswith(
        f"This storyboard was already submitted (video #{job.id})"
    )
    assert not [i for i in reply_buttons(again) if i.startswith("sb:fix:")]
    assert len(world.provider.requests_to("create")) == 1


async def test_a_form_with_a_lost_image_that_already_made_its_job_offers_no_fix(
    world: World,
) -> None:
    """Submitted to the live form, then again after a restart lost the form's image: the
    job exists, so the answer is "already submitted", with no Fix to attach it again."""
    image = world.fd.attachment("kite.png", png_bytes(), "image/png")
    ix = await world.open_storyboard(shots=1, seconds=10, image=image)
    first = await world.submit(ix, ["A red kite."])
    assert "is queued" in followup_text(first)
    await world.restart()
    again = await world.submit(ix, ["A red kite."])
    [job] = await world.jobs()
    assert followup_text(again).startswith(
        f"This storyboard was already submitted (video #{job.id})"
    )
    assert not [i for i in reply_buttons(again) if i.startswith("sb:fix:")]
    assert len(world.provider.requests_to("create")) == 1
