"""Isolation end to end: a member reaches only their own guild's jobs and drafts, and only
in channels they can see; anything else answers exactly like a job or draft that does not
exist, creates nothing at the provider and shows nothing of it.

Three outsiders try every command, button, picker and menu that names a job or a draft:
carol, of another guild; bob, of the same guild but kept out of the private channel the
job lives in; and the moderator, who may manage anyone's jobs but can't see that channel
either (without the channel check he would act, not just be refused as "not yours").
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest

from bot.drafts import Draft
from bot.i18n import t
from bot.store import Job, NewJob
from bot.storyboard import StoryboardSettings
from cogs.visibility import can_see_draft, can_see_job
from tests.backends import storage_toml
from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import JSON, Channel, Guild, Member, Overwrite, Perm
from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.harness import SECOND_GUILD_ID, World, png_bytes, replies_to

PRIVATE_CHANNEL_ID = 1_200_000_000_000_000_150
SCENE = "A lantern drifts over the secret lake."
OUTSIDERS = ["other_guild", "hidden_channel", "hidden_channel_mod"]
DRAFT_ACTIONS = (
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
    "duplicate",
)


@dataclass
class Case:
    """Who tries to reach alice's job or draft, where they act, and where it lives."""

    who: Member
    guild: Guild
    channel: Channel
    home: Channel

    @property
    def locale(self) -> str:
        return self.who.locale


async def add_private_channel(world: World, *allowed: Member) -> Channel:
    """A channel @everyone can't view; alice, the bot and `allowed` can."""
    view = Perm.VIEW_CHANNEL
    members = (world.std.alice, *allowed)
    channel = Channel(
        PRIVATE_CHANNEL_ID,
        "backstage",
        guild_id=GUILD_ID,
        overwrites=[
            Overwrite(GUILD_ID, type=0, deny=view),
            Overwrite(world.std.guild.bot_member_id, type=1, allow=view),
            *(Overwrite(m.id, type=1, allow=view) for m in members),
        ],
    )
    world.std.guild.channels.append(channel)
    await world.fd.dispatch("CHANNEL_CREATE", channel.payload())
    await world.wait_until(lambda: world.bot.get_channel(PRIVATE_CHANNEL_ID) is not None)
    return channel


async def revoke(world: World, channel: Channel, member: Member) -> None:
    """Take `member`'s view of `channel` away (a CHANNEL_UPDATE, as Discord sends it)."""
    channel.overwrites = [o for o in channel.overwrites if o.id != member.id]
    await world.fd.dispatch("CHANNEL_UPDATE", channel.payload())

    def gone() -> bool:
        cached = world.bot.get_channel(channel.id)
        assert isinstance(cached, discord.TextChannel)
        return all(target.id != member.id for target in cached.overwrites)

    await world.wait_until(gone)


async def case_for(world: World, outsider: str, *, allowed_at_first: bool = False) -> Case:
    """carol acts in her own guild on a job in guild A's public channel; bob or the
    moderator act in guild A's public channel on a job in its private channel."""
    if outsider == "other_guild":
        await add_private_channel(world)
        return Case(world.carol, world.second, world.second_channel, world.std.text)
    who = world.std.bob if outsider == "hidden_channel" else world.mod
    private = await add_private_channel(world, *([who] if allowed_at_first else []))
    return Case(who, world.std.guild, world.std.text, private)


def text_of(ix: InteractionHandle) -> str:
    """The words of the answer: the immediate reply, or the deferred one; then followups."""
    callback = ix.callback or {}
    first = (callback.get("data") or {}) if callback.get("type") == 4 else ix.original_message
    messages = [first or {}, *(m for m in ix.followups if m is not ix.original_message)]
    return "\n".join(str(m.get("content") or "") for m in messages).strip()


def seen(ix: InteractionHandle) -> str:
    """Everything the member was shown: the answer, embeds, a modal, followups."""
    return repr(ix.callback) + repr(replies_to(ix))


def provider_writes(world: World) -> list[str]:
    """Requests that create, change or delete something at the provider (not polls)."""
    return [f"{r.method} {r.path}" for r in world.provider.requests if r.method != "GET"]


def assert_nothing_leaked(ix: InteractionHandle, job: Job, typed: str = "") -> None:
    """Neither the job's scenes nor its task id (unless the member typed it themselves)."""
    shown = seen(ix).replace(typed, "") if typed else seen(ix)
    assert SCENE not in shown
    assert job.task_id is not None
    assert job.task_id not in shown


async def alices_job(world: World, case: Case, *, finished: bool = False) -> Job:
    job = await world.submitted_job(SCENE, channel=case.home)
    assert job.channel_id == case.home.id
    if finished:
        world.provider.advance(3600)

        async def delivered() -> bool:
            return (await world.job(job.id)).delivered_at is not None

        await world.wait_until(delivered)
        job = await world.job(job.id)
        assert job.state == "completed"
    return job


async def command(
    world: World, case: Case, name: str, options: dict[str, Any] | None = None
) -> InteractionHandle:
    ix = await world.fd.run_slash_command(
        guild=case.guild, channel=case.channel, user=case.who, name=name, options=options or {}
    )
    await ix.wait_callback()
    return ix


def forged_message(world: World, channel: Channel, component: JSON) -> JSON:
    """A bot message in `channel` carrying `component` (a button or select naming a job or
    draft that does not live there: what a forged interaction would carry)."""
    return world.fd.world.new_message(
        channel_id=channel.id,
        guild_id=channel.guild_id,
        body={"components": [{"type": 1, "components": [component]}]},
        files=[],
    )


async def press(world: World, case: Case, custom_id: str) -> InteractionHandle:
    button = {"type": 2, "style": 2, "label": "press", "custom_id": custom_id}
    message = forged_message(world, case.channel, button)
    ix = await world.fd.press_button(message, custom_id, user=case.who)
    await ix.wait_callback()
    return ix


async def choose(world: World, case: Case, custom_id: str, value: str) -> InteractionHandle:
    select = {"type": 3, "custom_id": custom_id, "options": [{"label": "1", "value": value}]}
    message = forged_message(world, case.channel, select)
    ix = await world.fd.select(message, custom_id, [value], user=case.who)
    await ix.wait_callback()
    return ix


# Jobs: /video status, /video cancel, /character create task:


@pytest.mark.parametrize("outsider", OUTSIDERS)
@pytest.mark.parametrize(
    ("name", "option"),
    [("video status", "id"), ("video cancel", "id"), ("character create", "task")],
)
async def test_a_job_out_of_reach_is_not_found_by_commands(
    world: World, outsider: str, name: str, option: str
) -> None:
    case = await case_for(world, outsider)
    # /character create needs a finished video; cancel a queued one: each would act.
    job = await alices_job(world, case, finished=name == "character create")
    before = provider_writes(world)
    for reference in (f"#{job.id}", str(job.id), job.task_id or ""):
        ix = await command(world, case, name, {option: reference})
        assert ix.callback_type == 4, ix.callback  # answered at once, nothing deferred
        assert text_of(ix) == t("jobs.not_found", case.locale, job=reference)
        assert_nothing_leaked(ix, job, typed=reference)
    assert provider_writes(world) == before
    assert [j.id for j in await world.jobs()] == [job.id]
    assert (await world.job(job.id)).state == job.state


async def test_a_job_answers_like_a_missing_one(world: World) -> None:
    """The same words for a job out of reach and for a number no job has."""
    case = await case_for(world, "hidden_channel")
    job = await alices_job(world, case)
    missing = await command(world, case, "video status", {"id": str(job.id + 1)})
    hidden = await command(world, case, "video status", {"id": str(job.id)})
    assert text_of(missing).replace(str(job.id + 1), "N") == text_of(hidden).replace(
        str(job.id), "N"
    )
    assert missing.callback_type == hidden.callback_type == 4


@pytest.mark.parametrize("inside", ["channel", "thread"])
async def test_from_inside_the_hidden_channel_it_is_still_not_found(
    world: World, inside: str
) -> None:
    """An interaction from the job's own channel or thread is judged by the permissions
    Discord resolved there: without View Channel, nothing is found."""
    case = await case_for(world, "hidden_channel_mod")
    job = await alices_job(world, case)
    assert job.thread_id is not None
    case.channel = case.home if inside == "channel" else world.fd.channels[job.thread_id]
    before = provider_writes(world)
    ix = await command(world, case, "video status", {"id": str(job.id)})
    assert text_of(ix) == t("jobs.not_found", case.locale, job=str(job.id))
    card = world.fd.messages[job.card_message_id or 0]
    for action in ("details", "cancel"):  # what a running job's card offers
        ix = await world.fd.press_button(card, f"sb:{action}:{job.id}", user=case.who)
        await ix.wait_callback()
        assert text_of(ix) == t("jobs.not_found", case.locale, job=job.id)
        assert_nothing_leaked(ix, job)
    assert provider_writes(world) == before


async def test_alice_still_reaches_her_job_in_the_private_channel(world: World) -> None:
    """The check does not lock out who may see: from the channel, the thread and elsewhere."""
    private = await add_private_channel(world)
    job = await world.submitted_job(SCENE, channel=private)
    assert job.thread_id is not None
    thread = world.fd.channels[job.thread_id]
    for where in (private, thread, world.std.text):
        ix = await world.fd.run_slash_command(
            guild=world.std.guild,
            channel=where,
            user=world.std.alice,
            name="video status",
            options={"id": str(job.id)},
        )
        await ix.wait_callback()
        assert ix.callback is not None
        assert ix.callback["data"]["embeds"][0]["footer"]["text"] == f"Video #{job.id}"
    card = world.fd.messages[job.card_message_id or 0]
    ix = await world.fd.press_button(card, f"sb:details:{job.id}", user=world.std.alice)
    await ix.wait_callback()
    assert SCENE in text_of(ix)


# /video list


def number_of(name: str) -> str:
    """ "#12" from a /video list entry ("Video #12 · Queued", "视频 #12 · 排队中")."""
    found = re.search(r"#\d+", name)
    assert found is not None, name
    return found.group()


@pytest.mark.parametrize("outsider", ["hidden_channel", "hidden_channel_mod"])
async def test_video_list_leaves_out_jobs_in_a_channel_the_member_no_longer_sees(
    world: World, outsider: str
) -> None:
    case = await case_for(world, outsider, allowed_at_first=True)
    visible = await world.submitted_job("Out in the open.", user=case.who)
    hidden = await world.submitted_job(SCENE, user=case.who, channel=case.home)
    ix = await command(world, case, "video list")
    assert ix.callback is not None
    names = [f["name"] for f in ix.callback["data"]["embeds"][0]["fields"]]
    assert [number_of(n) for n in names] == [f"#{hidden.id}", f"#{visible.id}"]

    await revoke(world, case.home, case.who)
    ix = await command(world, case, "video list")
    assert ix.callback is not None
    fields = ix.callback["data"]["embeds"][0]["fields"]
    assert [number_of(f["name"]) for f in fields] == [f"#{visible.id}"]
    assert_nothing_leaked(ix, hidden)


async def test_video_list_shows_no_job_of_another_guild(world: World) -> None:
    case = await case_for(world, "other_guild")
    job = await alices_job(world, case)
    ix = await command(world, case, "video list")
    assert text_of(ix) == t("jobs.list_empty", case.locale)
    assert_nothing_leaked(ix, job)


async def test_video_list_pages_count_only_visible_jobs(world: World) -> None:
    case = await case_for(world, "hidden_channel", allowed_at_first=True)
    first = await world.submitted_job(SCENE, user=case.who, channel=case.home)
    shown = [await world.submitted_job("Open 0.", user=case.who)]
    # More of the same straight into the store (the tracker need not poll them all).
    store = world.bot.store

    async def again(like: Job, n: int) -> Job:
        fields = like.model_dump(include=set(NewJob.model_fields) - {"image", "character"})
        return await store.create_job(
            NewJob.model_validate(fields | {"request_key": f"more:{like.id}:{n}"})
        )

    shown += [await again(shown[0], n) for n in range(5)]
    hidden = [first, await again(first, 0)]
    await revoke(world, case.home, case.who)
    ix = await command(world, case, "video list")
    assert ix.callback is not None
    page = ix.callback["data"]
    ids = [number_of(f["name"]) for f in page["embeds"][0]["fields"]]
    assert ids == [f"#{j.id}" for j in reversed(shown)][:5]
    message = ix.original_message
    assert message is not None
    buttons = [c for row in page["components"] for c in row["components"]]
    nxt = await world.fd.press_button(message, buttons[1]["custom_id"], user=case.who)
    await nxt.wait_callback()
    assert nxt.callback is not None
    ids = [number_of(f["name"]) for f in nxt.callback["data"]["embeds"][0]["fields"]]
    assert ids == [f"#{shown[0].id}"]
    for job in hidden:
        assert f"#{job.id} " not in seen(ix) + seen(nxt)


# Card buttons


@pytest.mark.parametrize("outsider", OUTSIDERS)
@pytest.mark.parametrize(
    "action", ["retry", "remix", "details", "character", "cancel", "resubmit", "confirm"]
)
async def test_a_card_button_of_a_job_out_of_reach_is_not_found(
    world: World, outsider: str, action: str
) -> None:
    case = await case_for(world, outsider)
    # Finished where the button would act on a finished job (a running one offers Cancel).
    job = await alices_job(world, case, finished=action in ("character", "remix"))
    before = provider_writes(world)
    ix = await press(world, case, f"sb:{action}:{job.id}")
    assert ix.callback_type == 4, ix.callback  # no modal, no defer
    assert text_of(ix) == t("jobs.not_found", case.locale, job=job.id)
    assert_nothing_leaked(ix, job)
    assert provider_writes(world) == before
    assert [j.id for j in await world.jobs()] == [job.id]


# Drafts: the panel's buttons, its shot picker, and "Use as reference image"


async def alices_draft(world: World, case: Case, owner: Member | None = None) -> Draft:
    """A draft (alice's, or `owner`'s) with one shot, its panel in a thread of `case.home`."""
    owner = owner or world.std.alice
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=case.home,
        user=owner,
        name="draft new",
        options={"title": "The secret lake"},
    )
    await world.wait_reply(ix)
    [draft] = [await world.bot.store.drafts.get(1)]
    assert draft.owner_id == owner.id
    await world.bot.store.drafts.add_shot(draft.id, scene=SCENE, duration=None, author_id=owner.id)
    return await world.bot.store.drafts.get(draft.id)


@pytest.mark.parametrize("outsider", OUTSIDERS)
async def test_draft_panel_buttons_and_picker_of_a_draft_out_of_reach_are_not_found(
    world: World, outsider: str
) -> None:
    case = await case_for(world, outsider)
    draft = await alices_draft(world, case)
    assert draft.thread_id is not None
    expected = t("draft.not_found", case.locale, draft=draft.id)
    before = provider_writes(world)
    for action in DRAFT_ACTIONS:
        ix = await press(world, case, f"sbd:{action}:{draft.id}")
        assert ix.callback_type == 4, (action, ix.callback)
        assert text_of(ix) == expected, action
        assert SCENE not in seen(ix)
    [shot] = draft.shots
    for action in ("edit", "remove", "up", "down"):
        ix = await choose(world, case, f"sbdp:{action}:{draft.id}", f"{shot.id}:{shot.version}")
        assert ix.callback_type == 4, (action, ix.callback)
        assert text_of(ix) == expected, action
    assert provider_writes(world) == before
    after = await world.bot.store.drafts.get(draft.id)
    assert after == draft  # not a shot, a setting or the state changed
    assert await world.bot.store.drafts.find(draft.id + 1) is None  # nothing duplicated


def image_message(world: World, case: Case) -> JSON:
    photo = world.fd.attachment("sunset.png", png_bytes((48, 27), "orange"), "image/png")
    message = world.fd.world.new_message(
        channel_id=case.channel.id,
        guild_id=case.guild.id,
        body={"content": "look"},
        files=[],
    )
    message["author"] = case.who.user_payload()
    message["attachments"] = [{k: v for k, v in photo.items() if k != "ephemeral"}]
    return message


@pytest.mark.parametrize("outsider", OUTSIDERS)
async def test_use_as_reference_image_never_reaches_a_draft_out_of_reach(
    world: World, outsider: str
) -> None:
    case = await case_for(world, outsider, allowed_at_first=True)
    if case.guild is world.std.guild:
        # Their own draft, started while they could see the channel: it would be offered.
        draft = await alices_draft(world, case, owner=case.who)
        await revoke(world, case.home, case.who)
    else:
        draft = await alices_draft(world, case)
    ix = await world.fd.run_message_context_menu(
        "Use as reference image", image_message(world, case), user=case.who
    )
    await world.wait_reply(ix)
    picker = ix.original_message
    assert picker is not None
    select = picker["components"][0]["components"][0]
    assert [o["value"] for o in select["options"]] == ["quick"]
    assert "The secret lake" not in seen(ix)
    # A forged choice of the draft anyway.
    chosen = await world.fd.select(picker, select["custom_id"], [str(draft.id)], user=case.who)
    await chosen.wait_callback()
    assert text_of(chosen) == t("draft.not_found", case.locale, draft=draft.id)
    assert await world.bot.store.drafts.image(draft.id) is None


# Odd input to an id option


ODD_IDS = [
    ("²", "not_found"),  # "²".isdigit() is True, int("²") raises
    ("#٣", "not_found"),  # Arabic-Indic digit three
    ("-1", "not_found"),
    ("0", "not_found"),
    ("9" * 20, "not_found"),  # over SQLite's int64: OverflowError if bound
    ("#" + "1" * 30, "not_found"),
    ("#", "bad_reference"),
    ("", "bad_reference"),
    ("   ", "bad_reference"),
    ("x" * 500, "bad_reference"),
]


@pytest.mark.parametrize(("raw", "answer"), ODD_IDS)
async def test_odd_ids_are_not_found_never_an_error(world: World, raw: str, answer: str) -> None:
    await world.submitted_job("There is one job.")
    case = Case(world.std.alice, world.std.guild, world.std.text, world.std.text)
    expected = (
        t("jobs.not_found", "en-US", job=raw.strip())
        if answer == "not_found"
        else t("jobs.bad_reference", "en-US")
    )
    for name, option in (
        ("video status", "id"),
        ("video cancel", "id"),
        ("character create", "task"),
    ):
        ix = await command(world, case, name, {option: raw})
        assert ix.callback_type == 4, (name, ix.callback)
        assert text_of(ix) == expected, name
    assert len(provider_writes(world)) == 1  # the one job's create


@pytest.mark.parametrize("prefix", ["sb:details", "sb:retry", "sbd:preview"])
async def test_a_button_with_an_id_over_sqlite_integers_is_not_found(
    world: World, prefix: str
) -> None:
    case = Case(world.std.alice, world.std.guild, world.std.text, world.std.text)
    ix = await press(world, case, f"{prefix}:{'9' * 20}")
    key = "draft.not_found" if prefix.startswith("sbd") else "jobs.not_found"
    field = "draft" if prefix.startswith("sbd") else "job"
    assert text_of(ix) == t(key, "en-US", **{field: int("9" * 20)})


# The store and the check on their own


async def test_the_store_finds_a_job_by_reference_only_in_its_guild(world: World) -> None:
    job = await world.submitted_job(SCENE)
    store = world.bot.store
    for reference in (f"#{job.id}", f" {job.id} ", job.task_id or ""):
        found = await store.job_by_reference(GUILD_ID, reference)
        assert found is not None and found.id == job.id
        assert await store.job_by_reference(SECOND_GUILD_ID, reference) is None
        assert await store.job_by_reference(None, reference) is None
    for odd in ("²", "9" * 20, "-1", "#", "", "x" * 500):
        assert await store.job_by_reference(GUILD_ID, odd) is None


def stub_interaction(*, guild_id: int | None, channel_id: int, user_id: int) -> Any:
    """The parts of an interaction `can_see_job` reads: the member can view this channel."""
    return SimpleNamespace(
        guild_id=guild_id,
        channel_id=channel_id,
        guild=None,
        user=SimpleNamespace(id=user_id),
        permissions=discord.Permissions(view_channel=True),
    )


async def test_can_see_job_wants_the_guild_even_where_the_channel_is_visible(
    world: World,
) -> None:
    job = await world.submitted_job(SCENE)
    where = job.thread_id or 0
    alice = world.std.alice.id
    here = stub_interaction(guild_id=GUILD_ID, channel_id=where, user_id=alice)
    assert can_see_job(cast(discord.Interaction, here), job)
    for guild_id in (SECOND_GUILD_ID, None):
        there = stub_interaction(guild_id=guild_id, channel_id=where, user_id=alice)
        assert not can_see_job(cast(discord.Interaction, there), job)
    # A job from direct messages: only its requester, only in DMs.
    dm = job.model_copy(update={"guild_id": None})
    assert can_see_job(
        cast(discord.Interaction, stub_interaction(guild_id=None, channel_id=1, user_id=alice)),
        dm,
    )
    for guild_id, user_id in ((None, world.std.bob.id), (GUILD_ID, alice)):
        other = stub_interaction(guild_id=guild_id, channel_id=where, user_id=user_id)
        assert not can_see_job(cast(discord.Interaction, other), dm)


def test_can_see_draft_wants_the_guild_even_where_the_channel_is_visible() -> None:
    draft = Draft(
        id=1,
        guild_id=GUILD_ID,
        channel_id=PRIVATE_CHANNEL_ID,
        thread_id=PRIVATE_CHANNEL_ID + 1,
        panel_message_id=None,
        owner_id=1,
        title="t",
        locale="en-US",
        settings=StoryboardSettings(model="sora-2", seconds=10),
        state="open",
        version=1,
        job_id=None,
        image_filename=None,
        created_at=0,
        updated_at=0,
    )
    where = PRIVATE_CHANNEL_ID + 1  # from the draft's own thread, where the member can look
    here = stub_interaction(guild_id=GUILD_ID, channel_id=where, user_id=1)
    assert can_see_draft(cast(discord.Interaction, here), draft)
    for guild_id in (SECOND_GUILD_ID, None):
        there = stub_interaction(guild_id=guild_id, channel_id=where, user_id=1)
        assert not can_see_draft(cast(discord.Interaction, there), draft)
    elsewhere = stub_interaction(guild_id=GUILD_ID, channel_id=PRIVATE_CHANNEL_ID + 2, user_id=1)
    assert not can_see_draft(cast(discord.Interaction, elsewhere), draft)  # not in any cache


# /storyboard-admin reload and show


def config_text(world: World, *, a: str = "", b: str = "", shared: str = "") -> str:
    return f"""
[discord]
token = "{world.fd.bot_token}"
[provider]
base_url = "{world.provider.base_url}"
{shared}
{storage_toml(world.storage)}
[guilds."{GUILD_ID}"]
api_key = "{GUILD_A_KEY}"
{a}
[guilds."{SECOND_GUILD_ID}"]
api_key = "{GUILD_B_KEY}"
{b}
"""


def write_config(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


async def reload_with(world: World, path: Path, text: str) -> str:
    write_config(path, text)
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.admin,
        name="storyboard-admin reload",
    )
    await ix.wait_callback()
    return text_of(ix)


@pytest.mark.parametrize(
    ("a", "b", "shared", "own_problem"),
    [
        ("", "daily_jobs_per_user = -1", "", None),
        ("", "seconds = 20", "", None),  # checked after parsing: another path
        ("", "no_such_setting = 1", "", None),
        ("", "", 'profile = "nonesuch"', None),
        ("", "[oops", "", None),  # not TOML at all
        ("daily_jobs_per_user = -1", "cooldown_seconds = -5", "", "daily_jobs_per_user"),
        ("daily_jobs_per_user = -1", "", "", "daily_jobs_per_user"),
    ],
)
async def test_reload_shows_only_this_servers_problems(
    world: World, a: str, b: str, shared: str, own_problem: str | None
) -> None:
    path = world.config.path
    text = await reload_with(world, path, config_text(world, a="cooldown_seconds = 7"))
    assert "Config reloaded" in text
    assert world.bot.config.guild(GUILD_ID).cooldown_seconds == 7
    text = await reload_with(
        world, path, config_text(world, a=a or "cooldown_seconds = 8", b=b, shared=shared)
    )
    assert world.bot.config.guild(GUILD_ID).cooldown_seconds == 7  # refused: nothing changed
    assert str(SECOND_GUILD_ID) not in text
    assert GUILD_A_KEY not in text and GUILD_B_KEY not in text
    for setting in ("cooldown_seconds", "seconds = 20", "no_such_setting", "profile", "oops"):
        assert setting not in text
    if own_problem is None:
        assert text == t("admin.reload_refused_elsewhere", "en-US")
        return
    assert f"guilds.{GUILD_ID}.{own_problem}" in text  # their own section, in full
    assert text.startswith(t("admin.reload_refused", "en-US"))
    assert text.endswith(t("admin.reload_also_elsewhere", "en-US")) == bool(b)


async def test_admin_show_is_only_about_this_server(world: World) -> None:
    ours = await world.submitted_job("Ours.")
    ix = await world.open_storyboard(
        world.carol, guild=world.second, channel=world.second_channel, shots=1, seconds=10
    )
    await world.submit(ix, ["Theirs."])
    theirs = (await world.jobs())[-1]
    assert theirs.guild_id == SECOND_GUILD_ID
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.admin,
        name="storyboard-admin show",
    )
    await world.wait_reply(ix)
    shown = seen(ix)
    assert ours.task_id is not None and ours.task_id in shown
    assert theirs.task_id is not None and theirs.task_id not in shown
    assert str(world.carol.id) not in shown
    assert GUILD_B_KEY[-4:] not in shown
    data = ix.original_message
    assert data is not None
    fields = {f["name"]: f["value"] for f in data["embeds"][0]["fields"]}
    assert fields["Today"].startswith("1 video, 10 video seconds")
    assert "Videos in progress (1)" in fields
