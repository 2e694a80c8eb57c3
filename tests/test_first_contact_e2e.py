"""First contact (issue 12), end to end through the fake Discord: `/storyboard prompt:`
without a form, the form's optional fields, settings title and examples, a form that
outlives its Modal object (restart, 20 minutes), and `/storyboard-help`."""

from __future__ import annotations

import re
from typing import Any

from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import Member
from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.harness import (
    CALLBACK,
    SECOND_GUILD_ID,
    SEND,
    World,
    followup_text,
    png_bytes,
)

CJK = re.compile(r"[\u3400-\u9fff]")


async def run_prompt(world: World, prompt: str, **options: Any) -> InteractionHandle:
    """`/storyboard prompt:...`; returns once the member got the bot's answer."""
    ix = await world.open_storyboard(prompt=prompt, **options)
    await world.wait_reply(ix)
    return ix


def prompt_sent(world: World) -> str:
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    return str(create.fields["prompt"])


async def assert_nothing_submitted(world: World) -> None:
    assert world.provider.requests_to("create") == []
    assert world.fd.calls_to(SEND) == []
    assert await world.jobs() == []


# 1. The `prompt` option: a whole storyboard on one line, no form


async def test_prompt_with_5s_marks_submits_without_a_form(world: World) -> None:
    ix = await run_prompt(world, "[5s] a door opens [5s] a cat walks out", seconds=10)
    assert ix.modal is None
    # Acknowledged first (ephemeral "thinking"), then the same answer the form gets.
    [ack] = ix.callback_calls
    assert ack.json == {"type": 5, "data": {"flags": 64}}
    assert prompt_sent(world) == (
        "Shot 1:\nduration: 5sec\nScene: a door opens\n\n"
        "Shot 2:\nduration: 5sec\nScene: a cat walks out"
    )
    [job] = await world.jobs()
    assert f"Video #{job.id} is queued" in followup_text(ix)
    # The request key is the interaction's: Discord delivering it twice pays once.
    assert job.request_key == f"quick:{ix.id}"
    assert [c.json["embeds"][0]["footer"]["text"] for c in world.fd.calls_to(SEND)[:1]] == [
        "Video #1"
    ]


async def test_prompt_splits_on_bars_and_line_breaks(world: World) -> None:
    await run_prompt(world, "A red kite | it climbs\nit flies away |", seconds=15)
    assert prompt_sent(world) == (
        "Shot 1:\nduration: 5sec\nScene: A red kite\n\n"
        "Shot 2:\nduration: 5sec\nScene: it climbs\n\n"
        "Shot 3:\nduration: 5sec\nScene: it flies away"
    )


async def test_one_scene_alone_is_one_shot_of_the_whole_length(world: World) -> None:
    ix = await run_prompt(world, "A lighthouse in a storm at night.", seconds=15)
    assert (
        prompt_sent(world) == "Shot 1:\nduration: 15sec\nScene: A lighthouse in a storm at night."
    )
    assert "is queued" in followup_text(ix)


async def test_a_pasted_provider_storyboard_parses_as_today(world: World) -> None:
    pasted = r"Shot 1:\nduration: 4sec\nScene: A. Shot 2:\nduration: 6sec\nScene: B."
    await run_prompt(world, pasted, seconds=10)
    assert prompt_sent(world) == (
        "Shot 1:\nduration: 4sec\nScene: A.\n\nShot 2:\nduration: 6sec\nScene: B."
    )


async def test_prompt_with_an_image_attachment(world: World) -> None:
    image = world.fd.attachment("kite.png", png_bytes(), "image/png")
    ix = await run_prompt(world, "A kite | it flies", seconds=10, image=image)
    [create] = world.provider.requests_to("create")
    assert create.files["input_reference"].data == png_bytes()
    assert "is queued" in followup_text(ix)


async def test_prompt_with_wrong_durations_names_the_shot_and_echoes(world: World) -> None:
    ix = await run_prompt(world, "[5s] a door opens [8s] a cat walks out", seconds=10)
    text = followup_text(ix)
    assert "Change shot 2 from 8 s to 5 s" in text
    assert "[5s] a door opens [8s] a cat walks out" in text
    await assert_nothing_submitted(world)


# 2. The form: only shot 1 required, settings in the title, one example story


async def test_the_form_needs_only_shot_1_and_shows_its_settings(world: World) -> None:
    ix = await world.open_storyboard()
    modal = ix.modal
    assert modal is not None
    assert modal["title"] == "15 s · landscape · sora-2"
    fields = [c["component"] for c in modal["components"][:3]]
    assert [f["required"] for f in fields] == [True, False, False]
    placeholders = [f["placeholder"] for f in fields]
    assert len(set(placeholders)) == 3
    assert placeholders[0].startswith("[5s] Dawn.")
    sub = await world.submit(ix, ["A cat on a roof."])
    assert prompt_sent(world) == "Shot 1:\nduration: 15sec\nScene: A cat on a roof."
    assert "is queued" in followup_text(sub)


async def test_an_empty_middle_field_is_dropped(world: World) -> None:
    ix = await world.open_storyboard(shots=3, seconds=10)
    await world.submit(ix, ["A door opens.", "", "A cat walks out."])
    assert prompt_sent(world) == (
        "Shot 1:\nduration: 5sec\nScene: A door opens.\n\n"
        "Shot 2:\nduration: 5sec\nScene: A cat walks out."
    )


async def test_the_title_is_translated_and_fits_45_characters(world: World) -> None:
    ix = await world.open_storyboard(world.std.bob, seconds=10, orientation="portrait")
    assert ix.modal is not None
    assert ix.modal["title"] == "10 秒 · 竖屏 · sora-2"
    placeholders = [c["component"].get("placeholder", "") for c in ix.modal["components"][:3]]
    assert all(CJK.search(p) for p in placeholders)
    long_model = "sora-2-pro-" + "x" * 60
    config = world.config_with(
        guilds={str(GUILD_ID): {"api_key": GUILD_A_KEY, "models": ["sora-2", long_model]}},
    )
    await world.restart(config)
    ix = await world.open_storyboard(model=long_model, seconds=15)
    assert ix.modal is not None
    title = ix.modal["title"]
    assert len(title) <= 45 and title.startswith("15 s · landscape · sora-2-pro-x")
    assert len(ix.modal["custom_id"]) <= 100


async def test_shots_default_to_what_the_guild_sets(world: World) -> None:
    config = world.config_with(
        defaults={"default_shots": 1},
        guilds={str(GUILD_ID): {"api_key": GUILD_A_KEY, "default_shots": 2}},
    )
    await world.restart(config)
    ix = await world.open_storyboard()
    assert ix.modal is not None
    assert [c["label"] for c in ix.modal["components"]] == [
        "Shot 1",
        "Shot 2",
        "Reference image (optional)",
    ]
    ix = await world.open_storyboard(world.carol, guild=world.second, channel=world.second_channel)
    assert ix.modal is not None
    assert [c["label"] for c in ix.modal["components"]] == ["Shot 1", "Reference image (optional)"]


# 3. A form that outlives its Modal object


async def test_a_form_submitted_after_a_restart_keeps_its_settings(world: World) -> None:
    ix = await world.open_storyboard(
        shots=2, seconds=10, orientation="portrait", watermark=True, private=True
    )
    await world.restart()
    sub = await world.submit(ix, ["A door opens.", "A cat walks out."])
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.fields["seconds"] == "10"
    assert create.fields["size"] == "720x1280"
    assert create.fields["watermark"] == "true"
    assert create.fields["private"] == "true"
    assert create.fields["prompt"].count("Shot ") == 2
    [job] = await world.jobs()
    assert job.request_key == f"quick:{ix.id}"
    assert f"Video #{job.id} is queued" in followup_text(sub)
    # Answered once: the listener, with no live form to leave it to.
    assert len(sub.callback_calls) == 1


async def test_a_form_submitted_twice_after_a_restart_pays_once(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.restart()
    first = await world.submit(ix, ["A single cat."])
    second = await world.submit(ix, ["A single cat."])
    assert len(world.provider.requests_to("create")) == 1
    assert "already submitted (video #1)" in followup_text(second)
    assert "is queued" in followup_text(first)


async def test_an_image_option_lost_in_a_restart_is_said(world: World) -> None:
    image = world.fd.attachment("kite.png", png_bytes(), "image/png")
    ix = await world.open_storyboard(shots=1, seconds=10, image=image)
    await world.restart()
    sub = await world.submit(ix, ["A red kite."])
    text = followup_text(sub)
    assert "was lost when I restarted" in text
    assert "A red kite." in text
    await assert_nothing_submitted(world)


async def test_a_stashed_image_form_keeps_its_image_after_a_restart(world: World) -> None:
    """ "Use as reference image" -> quick storyboard: the image is in the store, so the
    form's id carries the stash and a restart does not lose it."""
    photo = world.fd.attachment("sunset.png", png_bytes((48, 27), "orange"), "image/png")
    chosen = await world.use_as_reference(photo, "quick")
    assert chosen.modal is not None
    await world.restart()
    sub = await world.submit(chosen, ["A sunset over the sea."])
    [create] = world.provider.requests_to("create")
    assert create.files["input_reference"].data == png_bytes((48, 27), "orange")
    assert "is queued" in followup_text(sub)


async def test_a_form_submitted_20_minutes_later_works_and_is_answered_once(
    world: World,
) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10)
    world.fd.advance_clock(20 * 60)
    sub = await world.submit(ix, ["A cat, twenty minutes later."])
    assert "is queued" in followup_text(sub)
    assert len(world.provider.requests_to("create")) == 1
    # The live form answered; the listener stayed silent (no second callback at all).
    assert [
        c for c in world.fd.calls_to(CALLBACK) if c.params["interaction_id"] == str(sub.id)
    ] == [sub.callback_calls[0]]


async def test_a_form_whose_modal_object_timed_out_is_answered_by_the_listener(
    world: World,
) -> None:
    ix = await world.open_storyboard(shots=2, seconds=10, orientation="portrait")
    assert ix.modal is not None
    # discord.py drops a Modal object after its 15-minute timeout (on the real clock):
    # do what that does, without waiting.
    store = world.bot._connection._view_store
    store._modals[ix.modal["custom_id"]].stop()
    assert ix.modal["custom_id"] not in store._modals
    sub = await world.submit(ix, ["A door opens.", "A cat walks out."])
    assert "is queued" in followup_text(sub)
    [create] = world.provider.requests_to("create")
    assert create.fields["size"] == "720x1280"
    assert len(sub.callback_calls) == 1


async def test_a_prompt_by_a_chinese_member_is_answered_in_chinese(world: World) -> None:
    ix = await world.open_storyboard(
        world.std.bob, prompt="[5s] 门开了 [5s] 一只猫走出来", seconds=10
    )
    await world.wait_reply(ix)
    [job] = await world.jobs()
    assert followup_text(ix).startswith(f"已提交！视频 #{job.id} 正在排队，进度请看 <#")
    ix = await world.open_storyboard(world.std.bob, prompt="[5s] 门开了 [8s] 猫", seconds=10)
    await world.wait_reply(ix)
    assert CJK.search(followup_text(ix))
    assert "Change shot" not in followup_text(ix)


async def test_a_form_without_settings_in_its_id_is_refused_plainly(world: World) -> None:
    ix = await world.open_storyboard(shots=1, seconds=10)
    assert ix.modal is not None
    ix.modal["custom_id"] = f"sb:quick:{ix.id}"  # a form opened by an older version
    await world.restart()
    sub = await world.fd.submit_modal(ix, {"shot_1": "A cat."})
    await sub.wait_callback()
    assert sub.callback is not None
    assert "lost its settings" in sub.callback["data"]["content"]
    await assert_nothing_submitted(world)


# 4. /storyboard-help


async def run_help(world: World, user: Member | None = None, **where: Any) -> str:
    ix = await world.fd.run_slash_command(
        guild=where.get("guild", world.std.guild),
        channel=where.get("channel", world.std.text),
        user=user or world.std.alice,
        name="storyboard-help",
    )
    await ix.wait_callback()
    assert ix.callback is not None
    assert ix.callback["type"] == 4
    assert ix.callback["data"]["flags"] == 64
    return str(ix.callback["data"]["content"])


async def test_help_explains_the_rule_gives_examples_and_this_servers_limits(world: World) -> None:
    config = world.config_with(
        guilds={
            str(GUILD_ID): {
                "api_key": GUILD_A_KEY,
                "daily_jobs_per_user": 3,
                "cooldown_seconds": 30,
            },
            str(SECOND_GUILD_ID): {"api_key": GUILD_B_KEY, "seconds": 10, "max_seconds": 15},
        },
    )
    await world.restart(config)
    text = await run_help(world)
    assert "A storyboard is a short video told in shots" in text
    assert "a shot starting with [5s] lasts 5 seconds" in text
    assert text.count("```") == 6  # three examples, each in its own copyable block
    assert "[5s] A paper boat sails down a rainy street" in text
    assert "Video lengths: 10, 15, 25 seconds (now 15 s by default)." in text
    assert "Models: sora-2, sora-2-pro." in text
    assert "Each member may make 3 videos a day." in text
    assert "Cooldown between videos: 30 s." in text
    assert "help." not in text and "first." not in text  # no catalogue key shown raw

    other = await run_help(world, world.carol, guild=world.second, channel=world.second_channel)
    assert "Video lengths: 10, 15 seconds (now 10 s by default)." in other
    assert "videos a day" not in other and "between videos" not in other


async def test_help_in_a_guild_without_a_key_says_so(world: World) -> None:
    text = await run_help(world, world.carol, guild=world.no_key, channel=world.no_key_channel)
    assert "no video API key yet" in text
    assert "Video lengths" not in text


async def test_help_for_a_chinese_member_is_all_chinese(world: World) -> None:
    text = await run_help(world, world.std.bob)
    assert "分镜就是按镜头讲的一段短视频" in text
    assert "视频时长：10、15、25 秒（默认 15 秒）。" in text  # a Chinese list: 、
    # Data, not language: commands, options, the [5s] mark, model names, "API".
    residue = re.sub(r"/storyboard|`prompt`|\[\d+s\]|sora-2(?:-pro)?|API", "", text)
    assert re.findall(r"[A-Za-z]{2,}", residue) == []
