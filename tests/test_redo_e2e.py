"""Edit & redo with its settings in the form, and the job's buttons wherever it is shown
(issue 12): the form as `[Ns] scene` lines with length, orientation and model to pick;
`/video status` with working buttons; `/video list` linking each video; the delivered
video carrying the finished job's buttons; every job option autocompleting the member's
own jobs, and only those they can still see."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.i18n import t
from bot.profiles import OPENAI
from bot.redo import prefill, redo_shots, scaled
from bot.store import Job
from bot.storyboard import Shot, parse_prompt
from cogs.job_views import video_view
from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import Channel, Guild, Member
from tests.fake_provider import Fault
from tests.harness import SEND, World, followup_text
from tests.test_governance_e2e import with_guild
from tests.test_isolation_e2e import add_private_channel, revoke, text_of
from tests.test_money_e2e import answered, button_ids, card_of, delivered, posts_in, press

MODAL, MESSAGE = 9, 4
CARD_EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
WEBHOOK_EDIT = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"


async def finished_job(world: World, *scenes: str, user: Member | None = None, **opts: Any) -> Job:
    job = await world.submitted_job(*scenes, user=user, **opts)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    return await world.job(job.id)


def form_fields(ix: InteractionHandle) -> dict[str, dict[str, Any]]:
    """The form's components by custom id (each wrapped in its Label)."""
    assert ix.modal is not None, ix.callback
    return {c["component"]["custom_id"]: c["component"] for c in ix.modal["components"]}


def picked(select: dict[str, Any]) -> list[str]:
    return [o["value"] for o in select["options"] if o.get("default")]


def offered(select: dict[str, Any]) -> list[str]:
    return [o["value"] for o in select["options"]]


async def open_redo(world: World, message: dict[str, Any] | int, job: Job) -> InteractionHandle:
    return await press(world, message, f"sb:remix:{job.id}")


async def submit_form(
    world: World, form: InteractionHandle, values: dict[str, Any] | None = None
) -> InteractionHandle:
    sub = await world.fd.submit_modal(form, values or {})
    await world.wait_reply(sub)
    return sub


def shots_of(job: Job) -> list[tuple[int | None, str]]:
    return [(s.duration, s.scene) for s in job.storyboard.shots]


# -- The form: prefilled as [Ns] lines, settings to pick ------------------------------------


def test_the_prefill_reads_back_as_the_same_shots() -> None:
    shots = [
        Shot(scene="A fox runs (2) times.", duration=3),
        Shot(scene="[2s] was part of the scene.", duration=4),
        Shot(scene="【1s】 too, and a | bar.", duration=8),
    ]
    text = prefill(shots)
    assert text.splitlines() == [
        "[3s] A fox runs (2) times.",
        "[4s] [2s] was part of the scene.",
        "[8s] 【1s】 too, and a | bar.",
    ]
    assert parse_prompt(text) == shots
    assert redo_shots(text, before=shots, seconds=15) == shots


def test_untouched_marks_follow_a_new_length_and_typed_ones_are_kept() -> None:
    before = [Shot(scene="A.", duration=3), Shot(scene="B.", duration=7)]
    text = prefill(before)
    assert [s.duration for s in redo_shots(text, before=before, seconds=25)] == [8, 17]
    assert [s.duration for s in redo_shots(text, before=before, seconds=4)] == [1, 3]
    typed = "[10s] A.\n[5s] B."
    assert [s.duration for s in redo_shots(typed, before=before, seconds=25)] == [10, 5]
    assert scaled([5, 5, 5], 2) is None  # three shots can't share two seconds
    assert scaled([1, 1, 13], 10) == [1, 1, 8]


async def test_the_form_is_prefilled_with_shot_lines_and_the_settings_and_round_trips(
    world: World,
) -> None:
    job = await finished_job(world, "[3s] A fox runs.", "It jumps the fence.")
    assert shots_of(job) == [(3, "A fox runs."), (7, "It jumps the fence.")]
    form = await open_redo(world, job.card_message_id or 0, job)
    fields = form_fields(form)
    assert fields["storyboard"]["value"] == "[3s] A fox runs.\n[7s] It jumps the fence."
    assert (offered(fields["seconds"]), picked(fields["seconds"])) == (["10", "15", "25"], ["10"])
    assert picked(fields["orientation"]) == ["landscape"]
    assert (offered(fields["model"]), picked(fields["model"])) == (
        ["sora-2", "sora-2-pro"],
        ["sora-2"],
    )
    labels = [c["label"] for c in form.modal["components"]]  # type: ignore[index]
    assert labels == ["Storyboard", "Video length", "Orientation", "Model"]
    # Sent untouched: the same shots and settings, the same prompt at the provider.
    await submit_form(world, form)
    first, again = world.provider.requests_to("create")
    assert again.fields["prompt"] == first.fields["prompt"]
    new = (await world.jobs())[-1]
    assert new.id != job.id
    assert shots_of(new) == shots_of(job)
    assert new.storyboard.settings == job.storyboard.settings


async def test_the_form_speaks_the_members_language(world: World) -> None:
    bob = world.std.bob
    job = await finished_job(world, "一只狐狸在跑。", user=bob)
    form = await world.fd.press_button(job.card_message_id or 0, f"sb:remix:{job.id}", user=bob)
    await form.wait_callback()
    assert form.modal is not None
    assert form.modal["title"] == f"修改重做视频 #{job.id}"
    labels = [c["label"] for c in form.modal["components"]]
    assert labels == ["分镜", "视频时长", "方向", "模型"]
    assert form.modal["components"][0]["description"].startswith("每行一个镜头；[5s] 设定时长。")
    fields = form_fields(form)
    assert [o["label"] for o in fields["seconds"]["options"]] == ["10 秒", "15 秒", "25 秒"]
    assert [o["label"] for o in fields["orientation"]["options"]] == ["横屏", "竖屏"]


async def test_changing_length_orientation_and_model_in_the_form_makes_a_job_with_them(
    world: World,
) -> None:
    job = await finished_job(world, "[3s] A fox runs.", "It jumps the fence.")
    form = await open_redo(world, job.card_message_id or 0, job)
    sub = await submit_form(
        world,
        form,
        {"seconds": ["25"], "orientation": ["portrait"], "model": ["sora-2-pro"]},
    )
    new = (await world.jobs())[-1]
    s = new.storyboard.settings
    assert (s.seconds, s.orientation, s.model) == (25, "portrait", "sora-2-pro")
    # The marks left as they were follow the new length.
    assert shots_of(new) == [(8, "A fox runs."), (17, "It jumps the fence.")]
    create = world.provider.requests_to("create")[-1]
    assert create.valid, create.errors
    assert (create.fields["seconds"], create.fields["size"], create.fields["model"]) == (
        "25",
        "720x1280",
        "sora-2-pro",
    )
    assert "Shot 2:\nduration: 17sec\nScene: It jumps the fence." in create.fields["prompt"]
    assert followup_text(sub).startswith(f"Submitted! Video #{new.id} is queued.")
    # The new card goes to the first job's thread.
    assert new.card_channel_id == job.thread_id


async def test_marks_the_member_changed_are_taken_as_typed(world: World) -> None:
    job = await finished_job(world, "[3s] A fox runs.", "It jumps the fence.")
    form = await open_redo(world, job.card_message_id or 0, job)
    await submit_form(
        world,
        form,
        {"storyboard": "[5s] A fox runs.\n[10s] It jumps the fence.", "seconds": ["15"]},
    )
    new = (await world.jobs())[-1]
    assert shots_of(new) == [(5, "A fox runs."), (10, "It jumps the fence.")]
    assert new.storyboard.settings.seconds == 15


async def test_a_bad_setting_in_the_form_is_refused_and_nothing_is_sent(world: World) -> None:
    job = await finished_job(world, "A fox runs.")
    form = await open_redo(world, job.card_message_id or 0, job)
    # 25 s is offered, but only for a pro model.
    sub = await submit_form(world, form, {"seconds": ["25"]})
    said = followup_text(sub)
    assert said.startswith(t("storyboard.seconds_needs_pro", "en-US", seconds=25, model="sora-2"))
    assert "[10s] A fox runs." in said  # their text back, so nothing typed is lost
    assert len(world.provider.requests_to("create")) == 1
    assert [j.id for j in await world.jobs()] == [job.id]


async def test_a_length_the_server_no_longer_allows_is_refused(world: World) -> None:
    job = await finished_job(world, "A fox runs.")
    form = await open_redo(world, job.card_message_id or 0, job)
    # An admin lowers the limit while the form is open.
    world.bot.config = with_guild(world, max_seconds=10, seconds=10)
    sub = await submit_form(world, form, {"seconds": ["15"]})
    assert followup_text(sub).startswith(
        t("storyboard.seconds_over_max", "en-US", seconds=15, max=10)
    )
    assert len(world.provider.requests_to("create")) == 1


async def test_the_same_form_submitted_twice_with_new_settings_is_one_job(world: World) -> None:
    job = await finished_job(world, "A fox runs.")
    form = await open_redo(world, job.card_message_id or 0, job)
    values = {"seconds": ["15"], "orientation": ["portrait"]}
    first = await world.fd.submit_modal(form, values)
    second = await world.fd.submit_modal(form, values)
    await world.wait_reply(first)
    await world.wait_reply(second)
    # Whichever lands first is the job; the other is told so ("Submitted" sorts first).
    answers = sorted([followup_text(first), followup_text(second)])
    jobs = await world.jobs()
    assert len(jobs) == 2
    assert answers[0].startswith(f"Submitted! Video #{jobs[-1].id} is queued.")
    assert answers[1].startswith(t("storyboard.already_submitted", "en-US", job=jobs[-1].id))
    assert len(world.provider.requests_to("create")) == 2  # the original and one redo


async def test_over_the_quota_the_press_answers_and_opens_no_form(world: World) -> None:
    world.bot.config = with_guild(world, daily_jobs_per_user=1)
    job = await finished_job(world, "The one that counts.")
    ix = await open_redo(world, job.card_message_id or 0, job)
    assert ix.callback_type == MESSAGE
    assert ix.modal is None
    assert text_of(ix).startswith("You have made your 1 video for today.")
    assert len(world.provider.requests_to("create")) == 1


async def test_in_the_cooldown_the_press_answers_in_the_members_language(world: World) -> None:
    world.bot.config = with_guild(world, cooldown_seconds=600)
    job = await finished_job(world, "一只狐狸在跑。", user=world.std.bob)
    ix = await world.fd.press_button(
        job.card_message_id or 0, f"sb:remix:{job.id}", user=world.std.bob
    )
    await ix.wait_callback()
    assert ix.modal is None
    assert text_of(ix).startswith("冷却中：<t:")


async def test_a_form_submitted_after_the_member_lost_the_channel_is_not_found(
    world: World,
) -> None:
    bob = world.std.bob
    private = await add_private_channel(world, bob)
    job = await finished_job(world, "A secret fox.", user=bob, channel=private)
    form = await world.fd.press_button(job.card_message_id or 0, f"sb:remix:{job.id}", user=bob)
    await form.wait_callback()
    assert form.modal is not None
    await revoke(world, private, bob)
    sub = await world.fd.submit_modal(form, {})
    await world.wait_reply(sub)
    assert followup_text(sub) == t("jobs.not_found", bob.locale, job=job.id)
    assert len(world.provider.requests_to("create")) == 1


# -- /video status: the card with working buttons -------------------------------------------


async def status(world: World, reference: str, user: Member | None = None) -> InteractionHandle:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=user or world.std.alice,
        name="video status",
        options={"id": reference},
    )
    await ix.wait_callback()
    return ix


async def test_video_status_answers_with_the_cards_buttons_and_they_work(world: World) -> None:
    job = await finished_job(world, "A fox runs.")
    ix = await status(world, f"#{job.id}")
    shown = ix.original_message
    assert shown is not None
    assert shown["flags"] & 64  # only the member sees it
    watch = f"https://discord.com/channels/{world.std.guild.id}/{job.thread_id}/{job.delivery_message_id}"
    assert button_ids(shown) == [f"sb:remix:{job.id}", f"sb:details:{job.id}", watch]
    details = await press(world, shown, f"sb:details:{job.id}")
    assert "A fox runs." in await answered(world, details)
    form = await open_redo(world, shown, job)
    await submit_form(world, form, {"orientation": ["portrait"]})
    new = (await world.jobs())[-1]
    assert new.storyboard.settings.orientation == "portrait"
    assert new.card_channel_id == job.thread_id  # carded with the job, not in the ephemeral


async def test_an_old_status_message_refreshes_the_real_card_not_itself(world: World) -> None:
    job = await world.submitted_job("A fox runs.")
    ix = await status(world, str(job.id))
    shown = ix.original_message
    assert shown is not None
    assert button_ids(shown) == [f"sb:cancel:{job.id}", f"sb:details:{job.id}"]
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    before = copy.deepcopy(shown)
    job = await world.job(job.id)

    def card_edits() -> int:
        return sum(
            1
            for c in world.fd.calls_to(CARD_EDIT)
            if c.params["message_id"] == str(job.card_message_id)
        )

    edits = card_edits()
    late = await press(world, shown, f"sb:cancel:{job.id}")
    assert "is now: Completed" in await answered(world, late)
    # After answering, the press refreshes the job's own card: wait for that edit, so the
    # test does not end (and the fakes stop) under it.
    await world.wait_until(lambda: card_edits() > edits)
    assert world.provider.requests_to("delete") == []
    # The ephemeral answer is left as it was; the job's own card is the one kept current.
    assert world.fd.messages[int(shown["id"])] == before
    assert world.fd.calls_to(WEBHOOK_EDIT) == []
    job = await world.job(job.id)
    assert f"sb:remix:{job.id}" in button_ids(card_of(world, job.card_message_id))


# -- /video list links each video ----------------------------------------------------------


async def test_video_list_links_each_finished_video_to_its_message(world: World) -> None:
    done = await finished_job(world, "A finished fox.")
    running = await world.submitted_job("A running fox.")
    ix = await world.fd.run_slash_command(
        guild=world.std.guild, channel=world.std.text, user=world.std.alice, name="video list"
    )
    await ix.wait_callback()
    assert ix.callback is not None
    fields = {f["name"]: f["value"] for f in ix.callback["data"]["embeds"][0]["fields"]}
    url = (
        f"https://discord.com/channels/{world.std.guild.id}/{done.thread_id}"
        f"/{done.delivery_message_id}"
    )
    assert fields[f"Video #{done.id} · Completed"] == f"A finished fox.\n10 s · [Watch]({url})"
    assert fields[f"Video #{running.id} · Queued"] == "A running fox.\n10 s"
    [video] = [c for c in posts_in(world, done.thread_id) if c.files]
    assert int(video.response["id"]) == done.delivery_message_id


# -- The delivered video carries the finished job's buttons ---------------------------------


async def test_the_delivered_video_carries_the_finished_jobs_buttons(world: World) -> None:
    job = await finished_job(world, "A fox runs.")
    [video] = [c for c in world.fd.calls_to(SEND) if c.files]
    message = int(video.response["id"])
    assert button_ids(world.fd.messages[message]) == [
        f"sb:remix:{job.id}",
        f"sb:details:{job.id}",
        f"sb:character:{job.id}",
    ]
    details = await press(world, message, f"sb:details:{job.id}")
    assert "A fox runs." in await answered(world, details)
    form = await open_redo(world, message, job)
    assert form.modal is not None


async def test_without_characters_at_the_provider_the_video_has_no_create_character(
    world: World,
) -> None:
    job = await finished_job(world, "A fox runs.")
    ids = [item.custom_id for item in video_view(job, OPENAI).children]  # type: ignore[attr-defined]
    assert ids == [f"sb:remix:{job.id}", f"sb:details:{job.id}"]


# -- Autocomplete: the member's own jobs they can still see ---------------------------------


async def suggest(
    world: World,
    name: str,
    option: str,
    typed: str = "",
    *,
    user: Member | None = None,
    guild: Guild | None = None,
    channel: Channel | None = None,
) -> list[dict[str, Any]]:
    ix = await world.fd.run_autocomplete(
        guild=guild or world.std.guild,
        channel=channel or world.std.text,
        user=user or world.std.alice,
        name=name,
        focused=option,
        options={option: typed},
    )
    await ix.wait_callback()
    assert ix.choices is not None, ix.callback
    return ix.choices


async def test_job_options_suggest_the_members_jobs_named_in_their_language(
    world: World,
) -> None:
    queued = await world.submitted_job("A queued fox.")
    assert queued.task_id is not None
    world.provider.set_status(queued.task_id, "queued")  # held at the provider
    world.provider.inject(Fault(route="create", kind="status", status=400))
    refused = await world.submitted_job("A refused owl.")
    assert refused.state == "submit_failed"
    bobs = await world.submitted_job("Bob's own.", user=world.std.bob)
    newest_first = [
        {"name": f"#{refused.id} · Not submitted · A refused owl.", "value": f"#{refused.id}"},
        {"name": f"#{queued.id} · Queued · A queued fox.", "value": f"#{queued.id}"},
    ]
    assert await suggest(world, "video status", "id") == newest_first
    # /video cancel puts what can still be cancelled first.
    assert await suggest(world, "video cancel", "id") == newest_first[::-1]
    assert await suggest(world, "video status", "id", "fox") == newest_first[1:]
    assert await suggest(world, "video status", "id", f"#{refused.id}") == newest_first[:1]
    # /character create task: only a finished video can become a character.
    assert await suggest(world, "character create", "task") == []
    world.provider.set_status(queued.task_id, None)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, queued.id))
    await world.wait_until(lambda: delivered(world, bobs.id))
    [done] = await suggest(world, "character create", "task")
    assert done == {"name": f"#{queued.id} · Completed · A queued fox.", "value": f"#{queued.id}"}
    # Bob reads his in Chinese, and sees only his own.
    [his] = await suggest(world, "video status", "id", user=world.std.bob)
    assert his == {"name": f"#{bobs.id} · 已完成 · Bob's own.", "value": f"#{bobs.id}"}


async def test_a_long_scene_is_cut_to_discords_100_characters(world: World) -> None:
    job = await world.submitted_job("A fox " + "runs and runs " * 20)
    [choice] = await suggest(world, "video status", "id")
    assert len(choice["name"]) == 100
    assert choice["name"].startswith(f"#{job.id} · Queued · A fox runs and runs")
    assert choice["name"].endswith("…")


@pytest.mark.parametrize(
    ("name", "option"),
    [("video status", "id"), ("video cancel", "id"), ("character create", "task")],
)
async def test_suggestions_leave_out_another_guilds_and_a_hidden_channels_jobs(
    world: World, name: str, option: str
) -> None:
    bob = world.std.bob
    private = await add_private_channel(world, bob)
    # Bob in two guilds: a job in each, and one in a channel he will lose.
    world.second.members.append(bob)
    here = await finished_job(world, "Out in the open.", user=bob)
    hidden = await finished_job(world, "Behind the door.", user=bob, channel=private)
    ix = await world.open_storyboard(
        bob, guild=world.second, channel=world.second_channel, shots=1, seconds=10
    )
    await world.submit(ix, ["In the other server."])
    there = (await world.jobs())[-1]
    assert there.guild_id == world.second.id
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, there.id))

    def numbers(choices: list[dict[str, Any]]) -> list[str]:
        return [c["value"] for c in choices]

    assert numbers(await suggest(world, name, option, user=bob)) == [
        f"#{hidden.id}",
        f"#{here.id}",
    ]
    await revoke(world, private, bob)
    assert numbers(await suggest(world, name, option, user=bob)) == [f"#{here.id}"]
    elsewhere = await suggest(
        world, name, option, user=bob, guild=world.second, channel=world.second_channel
    )
    assert numbers(elsewhere) == [f"#{there.id}"]
    # Typing another job's number finds nothing either.
    for job in (hidden, there):
        assert await suggest(world, name, option, f"#{job.id}", user=bob) == []


async def test_no_suggestions_where_the_member_may_not_use_the_bot(world: World) -> None:
    await world.submitted_job("A fox runs.", user=world.std.bob)
    world.bot.config = with_guild(world, allowed_role_ids=[world.std.guild.id + 7])
    assert await suggest(world, "video status", "id", user=world.std.bob) == []


# -- The fake Discord refuses what a Discord client could not send --------------------------


async def test_the_fake_refuses_what_the_client_would_not_send(world: World) -> None:
    job = await finished_job(world, "A fox runs.")
    form = await open_redo(world, job.card_message_id or 0, job)
    with pytest.raises(ValueError, match="offers"):
        await world.fd.submit_modal(form, {"seconds": ["11"]})
    with pytest.raises(ValueError, match="0 chosen"):
        await world.fd.submit_modal(form, {"seconds": []})
    with pytest.raises(ValueError, match="not registered with autocomplete"):
        await suggest(world, "storyboard", "prompt", "A fox")
    assert len(world.provider.requests_to("create")) == 1
