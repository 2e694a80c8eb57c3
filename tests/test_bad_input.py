"""Bad input: whatever a member types or attaches, the bot never crashes or pings anyone.

Every outcome is a job or a specific ephemeral message (the `world` fixture already
fails a test on any "unexpected error" log). The heavy generation runs on pure
functions; a handful of examples go through the real bot end to end.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import zlib
from collections.abc import Set
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

import cogs.attachments
from bot.errors import StoryboardError
from bot.i18n import t
from bot.images import check_image
from bot.profiles import PROFILES
from bot.store import Job
from bot.storyboard import (
    Shot,
    Storyboard,
    StoryboardSettings,
    ValidStoryboard,
    parse_prompt,
    shots_from_fields,
    validate_storyboard,
)
from cogs.job_card import build_card, escape, thread_name
from cogs.replies import ECHO_INLINE_LIMIT
from tests.fake_discord import InteractionHandle
from tests.fake_discord.limits import message_problems
from tests.fake_discord.models import JSON
from tests.fake_discord.standard import ALICE_ID, BOB_ID
from tests.harness import (
    CALLBACK,
    FOLLOWUP,
    MOD_ROLE_ID,
    SEND,
    THREAD_FROM_MESSAGE,
    World,
    followup_text,
    png_bytes,
    replies_to,
)

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
# What Discord would turn into a ping or a mention if it were sent unescaped.
PING = re.compile(r"@(everyone|here)\b|<@[!&]?\d{17,20}>")
NASTY = (
    "@everyone",
    "@here",
    f"<@{BOB_ID}>",
    f"<@!{BOB_ID}>",
    f"<@&{MOD_ROLE_ID}>",
    "**bold**",
    "__under__",
    "~~strike~~",
    "||spoiler||",
    "`code`",
    "```",
    "> quote",
    "# Heading",
    "[click](https://evil.example)",
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",  # byte order mark
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "مرحبا",
    "שלום",
    "Shot 2:",
    "duration: 5sec",
    "Scene:",
    "[5s]",
    "【3秒】",
    "\\n",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\x1b[31m",
    "😀",
    "👨‍👩‍👧",
)
fragments = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
member_text = st.lists(fragments, min_size=1, max_size=12).map("".join)


# -- pure functions: heavy generation --------------------------------------------------


RELAY = PROFILES["relay"]


def validate(fields: list[str], seconds: int = 10) -> ValidStoryboard:
    shots = shots_from_fields(fields, author_id=ALICE_ID)
    board = Storyboard(
        shots=tuple(shots), settings=StoryboardSettings(model="sora-2", seconds=seconds)
    )
    return validate_storyboard(board, RELAY, models=["sora-2", "sora-2-pro"])


@settings(max_examples=300, deadline=None)
@given(fields=st.lists(member_text, min_size=1, max_size=4), seconds=st.sampled_from([10, 15]))
def test_any_text_is_a_valid_storyboard_or_a_message_that_names_the_problem(
    fields: list[str], seconds: int
) -> None:
    try:
        valid = validate(fields, seconds)
    except StoryboardError as error:
        refusal: StoryboardError | None = error
    else:
        refusal = None
    if refusal is not None:
        for locale in ("en-US", "zh-CN"):
            text = t(refusal.key, locale, **refusal.fields)
            assert text and not re.search(r"\{[a-z_]+\}", text), (refusal.key, text)
        return
    assert sum(s.duration or 0 for s in valid.shots) == seconds
    for shot in valid.shots:
        assert "\n" not in shot.scene
        assert any(not c.isspace() and unicodedata.category(c) != "Cf" for c in shot.scene)
    # What is sent to the provider reads back as the same shots.
    again = parse_prompt(valid.prompt)
    assert [(s.scene, s.duration) for s in again] == [(s.scene, s.duration) for s in valid.shots]


@settings(max_examples=200, deadline=None)
@given(text=member_text)
def test_escape_leaves_no_mention_a_client_would_render(text: str) -> None:
    assert not PING.search(escape(text))


def job_of(scenes: list[str], image_name: str | None = None) -> Job:
    board = ValidStoryboard(
        shots=tuple(Shot(scene=s, duration=1) for s in scenes),
        settings=StoryboardSettings(model="sora-2", seconds=len(scenes)),
        size="1280x720",
    )
    return Job(
        id=7,
        request_key="quick:1",
        guild_id=1,
        channel_id=2,
        user_id=ALICE_ID,
        locale="en-US",
        public_locale="en-US",
        storyboard=board,
        image_name=image_name,
        filesize_limit=8 << 20,
        state="active",
        task_id="sora-2:task_01",
        provider_status="queued",
        progress=0,
        provider_answer=None,
        error_key=None,
        error_fields={},
        card_channel_id=None,
        card_message_id=None,
        thread_id=None,
        card_shown=None,
        created_at=0.0,
        updated_at=0.0,
        submitted_at=0.0,
        finished_at=None,
        delivered_at=None,
    )


@settings(max_examples=100, deadline=None)
@given(
    scenes=st.lists(
        member_text.map(lambda s: Shot(scene=s).scene).filter(bool), min_size=1, max_size=10
    ),
    image_name=st.none() | member_text,
)
def test_the_card_of_any_storyboard_fits_discord_and_pings_no_one(
    scenes: list[str], image_name: str | None
) -> None:
    job = job_of(scenes, image_name)
    embed = build_card(job).to_dict()
    assert message_problems({"embeds": [embed]}) == []
    member_parts = [embed.get("description", "")] + [
        f["value"] for f in embed["fields"] if f["name"] != "Requested by"
    ]
    for part in member_parts:
        assert not PING.search(part), part
    name = thread_name(job)
    assert 1 <= len(name) <= 100


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2048), name=member_text)
def test_any_bytes_are_an_image_or_a_named_refusal(data: bytes, name: str) -> None:
    try:
        image = check_image(data, name, max_bytes=1 << 20)
    except StoryboardError as error:
        refusal: str | None = error.key
    else:
        refusal = None
    if refusal is not None:
        assert refusal.startswith("image."), refusal
        return
    assert image.content_type in ("image/png", "image/jpeg", "image/webp")
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,60}\.(png|jpg|webp)", image.filename)


# -- bad images ------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width`×`height` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def encoded(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(out, format=kind)
    return out.getvalue()


BAD_IMAGES = {
    "truncated": ("cut.png", png_bytes((200, 200), "orange")[:-300], "image/png", "damaged"),
    "bomb": ("bomb.png", png_claiming(60_000, 60_000), "image/png", "too big"),
    "gif": ("anim.png", encoded("GIF"), "image/png", "is a GIF file"),
    "pdf": ("scan.png", b"%PDF-1.7\n1 0 obj <<>> endobj\n", "image/png", "not a PNG, JPEG"),
    "empty": ("nothing.png", b"", "image/png", "not a PNG, JPEG"),
}


@pytest.mark.parametrize("case", BAD_IMAGES)
def test_bad_image_bytes_are_refused_by_name(case: str) -> None:
    filename, data, _, words = BAD_IMAGES[case]
    with pytest.raises(StoryboardError) as caught:
        check_image(data, filename, max_bytes=2 << 20)
    assert words in t(caught.value.key, "en-US", **caught.value.fields)


# -- through the bot -------------------------------------------------------------------


def bodies(call: Any) -> list[JSON]:
    """The message bodies a call carries (a callback's `data`, or the body itself)."""
    body = call.json if isinstance(call.json, dict) else {}
    if call.route == CALLBACK:
        data = body.get("data")
        return [data] if isinstance(data, dict) and body.get("type") in (4, 7) else []
    return [body] if call.route in (SEND, EDIT, FOLLOWUP) else []


def assert_no_pings(world: World, since: int = 0, *, allowed_users: Set[int] = frozenset()) -> int:
    """Everything the bot posted from call `since` on pings at most `allowed_users`;
    returns how many message bodies were checked."""
    checked = 0
    for call in world.fd.calls[since:]:
        for body in bodies(call):
            if body.get("content"):  # embeds never ping; content does unless told not to
                checked += 1
                mentions = body.get("allowed_mentions")
                assert mentions is not None, (call.route, body)
                assert mentions.get("parse") == [], (call.route, mentions)
                assert not mentions.get("roles"), (call.route, mentions)
                assert not mentions.get("replied_user"), (call.route, mentions)
                assert {int(u) for u in mentions.get("users", [])} <= allowed_users, mentions
            for embed in body.get("embeds") or []:
                checked += 1
                texts = [embed.get("title", ""), embed.get("description", "")]
                texts += [f["value"] for f in embed.get("fields", [])]
                for text in texts:
                    for user in allowed_users:  # "Requested by", "by <@...>": meant
                        text = text.replace(f"<@{user}>", "")
                    assert not PING.search(text), (call.route, text)
    return checked


def ephemeral(message: JSON) -> bool:
    return bool(int(message.get("flags", 0) or 0) & 64)


def echoed(sub: InteractionHandle, typed: list[str]) -> bool:
    """The member's own text came back, inline or as a file, so nothing is lost."""
    text = followup_text(sub)
    files = [a for m in replies_to(sub) for a in m.get("attachments", [])]
    if any(a["filename"] == "storyboard.txt" for a in files):
        return True
    fenced = "\n\n".join(typed).replace("```", "`\u200b``")
    return fenced in text


async def run_modal(
    world: World, scenes: list[str], *, seconds: int = 10, image: JSON | None = None
) -> InteractionHandle:
    ix = await world.open_storyboard(shots=len(scenes), seconds=seconds)
    return await world.submit(ix, scenes, image=image)


async def outcome(world: World, sub: InteractionHandle, typed: list[str], jobs_before: int) -> str:
    """'job' or 'refused'; fails on anything else (no answer, an unexplained error)."""
    text = followup_text(sub)
    assert text, "the member got no answer"
    assert "Something went wrong on my side" not in text
    assert all(ephemeral(m) for m in replies_to(sub))
    jobs = await world.jobs()
    if "is queued" in text:
        assert len(jobs) == jobs_before + 1
        return "job"
    assert len(jobs) == jobs_before, text
    assert echoed(sub, typed), text
    return "refused"


@settings(
    max_examples=25,
    deadline=None,
    # One bot for every example (its state carries over, as in a real server); a failure
    # is reported as found: shrinking would replay whole interactions with 10 s timeouts.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(scenes=st.lists(member_text.filter(lambda s: 1 <= len(s) <= 4000), min_size=1, max_size=4))
async def test_random_text_through_the_modal_is_a_job_or_a_specific_answer(
    world: World, scenes: list[str]
) -> None:
    since, jobs_before = len(world.fd.calls), len(await world.jobs())
    sub = await run_modal(world, scenes)
    await outcome(world, sub, scenes, jobs_before)
    assert_no_pings(world, since, allowed_users={ALICE_ID})


MENTIONS = (
    f"@everyone look <@{BOB_ID}> and <@&{MOD_ROLE_ID}> @here **bold** __u__ ||spoiler|| "
    "[click](https://evil.example) `x`"
)


async def test_mentions_and_markdown_in_scenes_ping_no_one_and_render_as_text(
    world: World,
) -> None:
    job = await world.submitted_job(MENTIONS, "It ends.")
    world.provider.advance(3600)

    async def delivered() -> bool:
        return (await world.job(job.id)).delivered_at is not None

    await world.wait_until(delivered)
    [card] = [c for c in world.fd.calls_to(SEND) if c.json.get("embeds")]
    description = card.json["embeds"][0]["description"]
    assert "@\u200beveryone" in description and "@\u200bhere" in description
    assert f"<@\u200b{BOB_ID}>" in description and f"<@\u200b&{MOD_ROLE_ID}>" in description
    assert r"\*\*bold" in description and r"\|\|spoiler" in description
    assert r"\[click](https://evil.example)" in description
    assert world.fd.calls_to(THREAD_FROM_MESSAGE)[0].json["name"].startswith("@everyone look")
    assert assert_no_pings(world, allowed_users={ALICE_ID}) >= 4
    # The one mention the bot means: the requester, in the thread (hello, then the video).
    in_thread = [c for c in world.fd.calls_to(SEND) if c.params["channel_id"] == str(job.thread_id)]
    assert len(in_thread) == 2
    for post in in_thread:
        assert post.json["allowed_mentions"] == {"parse": [], "users": [ALICE_ID]}
        assert post.json["content"].startswith(f"<@{ALICE_ID}> ")


async def test_mentions_in_a_scene_are_escaped_in_video_list_and_status(world: World) -> None:
    job = await world.submitted_job(MENTIONS)
    since = len(world.fd.calls)
    for name, options in (("video list", {}), ("video status", {"id": str(job.id)})):
        ix = await world.fd.run_slash_command(
            guild=world.std.guild,
            channel=world.std.text,
            user=world.std.alice,
            name=name,
            options=options,
        )
        await ix.wait_callback()
    assert assert_no_pings(world, since, allowed_users={ALICE_ID}) == 2


async def test_mentions_and_markdown_in_a_draft_title_ping_no_one(world: World) -> None:
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="draft new",
        options={"title": "@everyone **Big** <@&" + str(MOD_ROLE_ID) + "> night"},
    )
    await world.wait_reply(ix)
    assert "Your draft is ready" in followup_text(ix)
    panels = [c for c in world.fd.calls_to(SEND) if c.json.get("embeds")]
    assert panels
    title = panels[0].json["embeds"][0]["title"]
    assert "@\u200beveryone" in title and r"\*\*Big\*\*" in title
    assert assert_no_pings(world, allowed_users={ALICE_ID}) >= 2


async def test_zero_width_and_rtl_only_scenes_are_empty_scenes(world: World) -> None:
    invisible = "\u200b\u200d\u2060\ufeff\u200e\u200f\u202e\u2066 \u200b"
    sub = await run_modal(world, ["A visible scene.", invisible])
    assert "Shot 2 has no scene" in followup_text(sub)
    assert world.provider.requests_to("create") == []


async def test_zero_width_and_rtl_inside_a_scene_are_kept_and_harmless(world: World) -> None:
    scene = "\u202eA door\u200b opens \u2066مرحبا\u2069 👨‍👩‍👧"
    sub = await run_modal(world, [scene])
    assert "is queued" in followup_text(sub)
    [create] = world.provider.requests_to("create")
    assert create.valid, create.errors
    assert create.fields["prompt"].endswith(f"Scene: {scene}")
    assert assert_no_pings(world, allowed_users={ALICE_ID})


async def test_four_full_fields_are_refused_with_the_text_returned_as_a_file(world: World) -> None:
    scenes = [f"Field {n} " + "x" * 3992 for n in range(1, 5)]
    sub = await run_modal(world, scenes)
    text = followup_text(sub)
    assert "Shot 1 is 4000 characters long; the most is 2000." in text
    assert echoed(sub, scenes)
    assert world.provider.requests_to("create") == []


async def test_four_long_scenes_make_a_job_whose_card_fits(world: World) -> None:
    scenes = [f"Scene {n} **{'y' * 1980}**" for n in range(1, 5)]
    sub = await run_modal(world, scenes, seconds=15)
    assert "is queued" in followup_text(sub)
    [create] = world.provider.requests_to("create")
    assert create.valid and len(create.fields["prompt"]) > 8000
    [card] = [c for c in world.fd.calls_to(SEND) if c.json.get("embeds")]
    assert message_problems(card.json) == []


async def test_a_pasted_storyboard_of_50_shots_names_the_limit(world: World) -> None:
    pasted = "\n\n".join(f"Shot {n}:\nduration: 1sec\nScene: Frame {n}." for n in range(1, 51))
    assert len(pasted) <= 4000
    sub = await run_modal(world, [pasted])
    text = followup_text(sub)
    assert "The storyboard has 50 shots; the most is 10." in text
    assert echoed(sub, [pasted])
    assert world.provider.requests_to("create") == []


async def test_an_echo_full_of_backticks_still_fits_one_message(world: World) -> None:
    # Each ``` grows by one character when fenced: the echo must still fit in 2000.
    scene = "[3s] " + "```" * ((ECHO_INLINE_LIMIT - 5) // 3)
    sub = await run_modal(world, [scene])
    text = followup_text(sub)
    assert "The shots add up to 3 s but the video is 10 s." in text
    assert echoed(sub, [scene])


@pytest.mark.parametrize("case", BAD_IMAGES)
async def test_a_bad_uploaded_image_is_refused_and_nothing_sent(world: World, case: str) -> None:
    filename, data, mime, words = BAD_IMAGES[case]
    upload = world.fd.attachment(filename, data, mime)
    sub = await run_modal(world, ["A cat."], image=upload)
    assert words in followup_text(sub)
    assert echoed(sub, ["A cat."])
    assert world.provider.requests_to("create") == []
    assert await world.jobs() == []


async def test_a_png_labelled_gif_is_sent_as_the_png_it_is(world: World) -> None:
    upload = world.fd.attachment("photo.gif", png_bytes(), "image/gif")
    sub = await run_modal(world, ["A cat."], image=upload)
    assert "is queued" in followup_text(sub)
    [create] = world.provider.requests_to("create")
    ref = create.files["input_reference"]
    assert (ref.filename, ref.content_type, ref.data) == ("photo.png", "image/png", png_bytes())


async def test_an_attachment_the_cdn_no_longer_has_is_refused(world: World) -> None:
    upload = world.fd.attachment("gone.png", png_bytes(), "image/png")
    del world.fd.world.cdn[upload["url"].split("/cdn/", 1)[1].split("?", 1)[0]]
    sub = await run_modal(world, ["A cat."], image=upload)
    [gone] = [c for c in world.fd.calls if c.path.startswith("/cdn/")]
    assert gone.status == 404
    world.fd.expect_problem(gone)
    assert "I couldn't download the image from Discord" in followup_text(sub)
    assert echoed(sub, ["A cat."])
    assert world.provider.requests_to("create") == []


async def test_a_slow_cdn_times_out_and_says_so(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cogs.attachments, "DOWNLOAD_TIMEOUT", 0.2)
    world.fd.world.cdn_delay = 1.0
    upload = world.fd.attachment("slow.png", png_bytes(), "image/png")
    sub = await run_modal(world, ["A cat."], image=upload)
    assert "I couldn't download the image from Discord" in followup_text(sub)
    assert world.provider.requests_to("create") == []
    world.fd.world.cdn_delay = 0.0
