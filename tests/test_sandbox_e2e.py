"""The sandbox provider end to end: a server on `profile = "sandbox"` sees the whole bot
(card, progress, delivery) without a key and without one request to a video service; the
"video" is the storyboard's animatic, said to be a sandbox preview (issue 17)."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import discord
import pytest
import yarl
from PIL import ImageStat

from bot.animatic import BACKGROUND, FPS
from bot.config import load_config
from tests.backends import sql, storage_toml
from tests.fake_discord import RecordedCall
from tests.fake_discord.standard import GUILD_ID
from tests.harness import SEND, World, png_bytes
from tests.test_drafts_e2e import add_shot, new_draft, press, reply_of
from tests.test_video_delivery_e2e import fetch_video

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
# The sandbox clock is moved by the test; a job takes this long on it.
JOB_SECONDS = 100
# A member's reference image: one strong colour, far from the animatic's background.
PICTURE = (220, 30, 160)


class SandboxClock:
    """The bot's sandbox clock: the wall clock plus what the test moved it by."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def outgoing(monkeypatch: pytest.MonkeyPatch) -> list[yarl.URL]:
    """Every URL any aiohttp session of this process asks for (discord.py's and the bot's)."""
    seen: list[yarl.URL] = []
    original = aiohttp.ClientSession._request

    def recording(self: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        seen.append(yarl.URL(str(url)))
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", recording)
    return seen


def discord_origins() -> set[yarl.URL]:
    """Where the fake Discord answers (REST, gateway, CDN), as discord.py was pointed."""
    return {
        yarl.URL(discord.http.Route.BASE).origin(),
        yarl.URL(str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)).origin(),
        yarl.URL(discord.asset.Asset.BASE).origin(),
    }


async def sandbox_world(world: World) -> SandboxClock:
    """The standard guild on the sandbox profile, without its key; the bot restarted."""
    config = world.config_with(
        guilds={str(GUILD_ID): {"profile": "sandbox", "sandbox_seconds": JOB_SECONDS}}
    )
    assert config.guild(GUILD_ID).api_key is None
    await world.restart(config)
    clock = SandboxClock()
    world.bot.sandbox_clock = clock
    return clock


def card_embeds(world: World, message_id: int | None) -> list[dict[str, Any]]:
    edits = [c for c in world.fd.calls_to(EDIT) if c.params["message_id"] == str(message_id)]
    return [c.json["embeds"][0] for c in edits if c.json.get("embeds")]


def status_of(embed: dict[str, Any]) -> str:
    return str({f["name"]: f["value"] for f in embed["fields"]}["Status"])


def video_posts(world: World, thread_id: int | None) -> list[RecordedCall]:
    return [
        c for c in world.fd.calls_to(SEND) if c.params["channel_id"] == str(thread_id) and c.files
    ]


async def delivered(world: World, job_id: int) -> bool:
    return (await world.job(job_id)).delivered_at is not None


def mp4_facts(data: bytes) -> tuple[float, int, int]:
    """The MP4's length in seconds and its picture's width and height, as PyAV decodes it."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames / FPS, stream.codec_context.width, stream.codec_context.height


def first_frame_shows(data: bytes) -> str:
    """What the first frame of an MP4 shows where no panel is drawn (the top right, clear
    of the shot's header at the top left, its scene text and the timeline at the bottom):
    "picture" (the member's image) or "background" (the plain one), whichever is nearer."""
    with av.open(io.BytesIO(data)) as container:
        frames = container.decode(container.streams.video[0])
        frame = next(frames).to_image()
        frames.close()
    w, h = frame.size
    mean = ImageStat.Stat(frame.crop((w * 7 // 10, h // 20, w * 19 // 20, h // 5))).mean
    colours = {"picture": PICTURE, "background": BACKGROUND}
    return min(
        colours,
        key=lambda n: sum((a - c) ** 2 for a, c in zip(mean, colours[n], strict=True)),
    )


def picture_upload(world: World) -> dict[str, Any]:
    """A 16:9 PNG of one strong colour, as the member attaches it."""
    return world.fd.attachment("poster.png", png_bytes((320, 180), "#dc1ea0"), "image/png")


async def test_a_sandbox_job_goes_through_every_state_to_its_animatic_with_no_provider(
    world: World, outgoing: list[yarl.URL]
) -> None:
    clock = await sandbox_world(world)
    job = await world.submitted_job("A lighthouse at dusk.", "The lamp turns on.", seconds=10)
    assert job.task_id is not None and job.task_id.startswith("sandbox-")
    assert (job.state, job.provider_status, job.key_fingerprint) == ("active", "queued", "sandbox")

    clock.offset = JOB_SECONDS / 2  # 50 % of the time: in progress, about 37 %
    await world.wait_until(
        lambda: any(
            status_of(e).startswith("In progress (")
            for e in card_embeds(world, job.card_message_id)
        )
    )
    running = await world.job(job.id)
    assert running.provider_status == "in_progress" and 0 < running.progress < 100
    [embed] = card_embeds(world, job.card_message_id)
    assert "Sandbox preview: no video service, nothing paid." in embed["description"]

    clock.offset = JOB_SECONDS + 1
    await world.wait_until(lambda: video_posts(world, job.thread_id))
    [post] = video_posts(world, job.thread_id)
    name, data = post.files[0]
    assert name == f"storyboard-{job.id}.mp4"
    seconds, width, height = mp4_facts(data)
    assert abs(seconds - 10) <= 2 / FPS  # ±1 frame per shot
    assert (width, height) == (1280, 720)
    assert first_frame_shows(data) == "background"  # submitted without an image
    assert "Sandbox preview: the storyboard's animatic, not a generated video." in str(
        post.json["content"]
    )
    await world.wait_until(lambda: delivered(world, job.id))
    done = await world.job(job.id)
    assert (done.state, done.provider_status, done.progress) == ("completed", "completed", 100)
    final = card_embeds(world, job.card_message_id)[-1]
    assert status_of(final) == "Completed"
    assert "Sandbox preview" in final["description"]

    # Nothing reached a video service: the fake provider heard nothing, and every request
    # this process made went to the fake Discord.
    assert world.provider.requests == []
    assert outgoing
    assert {url.origin() for url in outgoing} <= discord_origins()


async def test_a_restart_mid_job_still_delivers_the_animatic(world: World) -> None:
    clock = await sandbox_world(world)
    job = await world.submitted_job("A paper boat.", "It sails away.", seconds=15)
    clock.offset = JOB_SECONDS / 2
    await world.wait_until(
        lambda: any(
            status_of(e).startswith("In progress (")
            for e in card_embeds(world, job.card_message_id)
        )
    )
    await world.stop_bot()
    # A new process: nothing of the old one's memory; the task id carries the timeline.
    await world.start_bot()
    world.bot.sandbox_clock = clock
    clock.offset = JOB_SECONDS + 1
    await world.wait_until(lambda: video_posts(world, job.thread_id))
    [post] = video_posts(world, job.thread_id)
    seconds, _, _ = mp4_facts(post.files[0][1])
    assert abs(seconds - 15) <= 2 / FPS
    await world.wait_until(lambda: delivered(world, job.id))
    assert world.provider.requests == []


async def test_a_storyboard_with_an_image_is_delivered_over_it_even_after_a_restart(
    world: World,
) -> None:
    """The image stored with the job (as it was fitted for the provider) is under every
    shot of the animatic, also when another process delivers it."""
    clock = await sandbox_world(world)
    ix = await world.open_storyboard(shots=2, seconds=10)
    await world.submit(
        ix, ["A poster on a wall.", "The wind tears it."], image=picture_upload(world)
    )
    [job] = await world.jobs()
    assert job.task_id is not None and job.task_id.startswith("sandbox-")
    assert job.state == "active"
    await world.stop_bot()
    await world.start_bot()
    world.bot.sandbox_clock = clock
    clock.offset = JOB_SECONDS + 1
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    [post] = video_posts(world, job.thread_id)
    data = post.files[0][1]
    seconds, width, height = mp4_facts(data)
    assert (width, height) == (1280, 720)
    assert abs(seconds - 10) <= 2 / FPS
    assert first_frame_shows(data) == "picture"
    assert world.provider.requests == []


async def test_a_stored_image_that_no_longer_opens_still_gives_the_animatic(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Not expected (the image was checked when stored), but the member still gets the
    storyboard, over the plain background, rather than a delivery that never comes."""
    clock = await sandbox_world(world)
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A poster on a wall."], image=picture_upload(world))
    [job] = await world.jobs()
    await sql(world.storage, "UPDATE job_images SET data = ? WHERE job_id = ?", b"junk", job.id)
    clock.offset = JOB_SECONDS + 1
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    [post] = video_posts(world, job.thread_id)
    assert first_frame_shows(post.files[0][1]) == "background"
    assert (job.state, job.delivery_error) == ("completed", None)
    [warning] = [r for r in caplog.records if "stored reference image unusable" in r.message]
    assert (warning.levelname, f"task_id={job.task_id}" in warning.message) == ("WARNING", True)


async def test_an_admin_fetches_a_sandbox_job_as_its_animatic(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fetch-video` on a sandbox job writes the animatic the member got (over its image),
    and says it is not a generated video; nothing is asked of any provider."""
    clock = await sandbox_world(world)
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A poster on a wall."], image=picture_upload(world))
    [job] = await world.jobs()
    clock.offset = JOB_SECONDS + 1
    await world.wait_until(lambda: delivered(world, job.id))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[provider]\nbase_url = "{world.provider.base_url}"\n'
        + storage_toml(world.storage)
        + f'[guilds."{GUILD_ID}"]\nprofile = "sandbox"\nsandbox_seconds = {JOB_SECONDS}\n'
    )
    config.chmod(0o600)
    out = tmp_path / "sandbox.mp4"
    code, stdout, stderr = await fetch_video(
        capsys, str(job.id), "--out", str(out), "--config", str(config)
    )
    assert (code, stderr) == (0, ""), stderr
    size = out.stat().st_size
    assert stdout == (
        f"job #{job.id} (task {job.task_id}): {size / 1024 / 1024:.1f} MB written to {out}\n"
        "a sandbox job: this is its storyboard's animatic, not a generated video\n"
    )
    data = out.read_bytes()
    seconds, width, height = mp4_facts(data)
    assert ((width, height), abs(seconds - 10) <= 2 / FPS) == ((1280, 720), True)
    assert first_frame_shows(data) == "picture"
    assert not out.with_name(out.name + ".part").exists()
    assert world.provider.requests == []


async def test_a_sandbox_job_counts_towards_the_quota_as_a_real_one(world: World) -> None:
    """Free, but counted: an admin trying the bot sees the quota they set hold."""
    config = world.config_with(
        guilds={str(GUILD_ID): {"profile": "sandbox", "daily_jobs_per_user": 1}}
    )
    await world.restart(config)
    job = await world.submitted_job("The one that counts.")
    assert job.task_id is not None and job.task_id.startswith("sandbox-")
    ix = await world.open_storyboard(world.std.alice)
    assert ix.modal is None
    assert ix.callback is not None
    assert str(ix.callback["data"]["content"]).startswith("You have made your 1 video for today.")
    assert world.provider.requests == []


async def test_a_draft_submitted_in_the_sandbox_is_delivered_as_its_animatic(
    world: World,
) -> None:
    clock = await sandbox_world(world)
    draft = await new_draft(world)
    for scene in ("The fridge door opens.", "A purple monster steps out.", "It waves."):
        await add_shot(world, draft, world.std.alice, scene, "5")
    await press(world, draft, "submit", world.std.alice)
    await world.wait_until(lambda: jobs_with_task(world))
    [job] = await world.jobs()
    assert job.task_id is not None and job.task_id.startswith("sandbox-")
    assert [s.scene for s in job.storyboard.shots] == [
        "The fridge door opens.",
        "A purple monster steps out.",
        "It waves.",
    ]
    clock.offset = JOB_SECONDS + 1
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)  # its thread is known once its card is up
    [post] = video_posts(world, job.thread_id)
    seconds, _, _ = mp4_facts(post.files[0][1])
    assert abs(seconds - 15) <= 3 / FPS
    assert world.provider.requests == []


async def test_a_draft_with_a_reference_image_is_delivered_over_it(world: World) -> None:
    clock = await sandbox_world(world)
    draft = await new_draft(world)
    await add_shot(world, draft, world.std.alice, "A poster on a wall.", "15")
    chosen = await world.use_as_reference(picture_upload(world), str(draft.id))
    assert "Reference image set: poster.png." in reply_of(chosen)
    await press(world, draft, "submit", world.std.alice)
    await world.wait_until(lambda: jobs_with_task(world))
    [job] = await world.jobs()
    clock.offset = JOB_SECONDS + 1
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    [post] = video_posts(world, job.thread_id)
    assert first_frame_shows(post.files[0][1]) == "picture"
    assert world.provider.requests == []


async def jobs_with_task(world: World) -> bool:
    return any(j.task_id is not None for j in await world.jobs())


async def test_the_admin_view_says_the_server_is_in_the_sandbox(world: World) -> None:
    await sandbox_world(world)
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.admin,
        name="storyboard-admin show",
    )
    await ix.wait_callback()
    await world.wait_reply(ix)
    assert ix.original_message is not None
    fields = {f["name"]: f["value"] for f in ix.original_message["embeds"][0]["fields"]}
    settings = fields["Effective settings"].splitlines()
    assert settings[0] == (
        "Video service: sandbox, nothing paid and no key needed (a job takes 100 s;"
        " the video is the storyboard's animatic)"
    )
    assert not any(line.startswith("API key") for line in settings)


def test_the_example_config_runs_in_the_sandbox_with_only_a_token() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    config = load_config(example, {"DISCORD_TOKEN": "only.the.token"})
    guild = config.guild(987654321)  # any server, listed or not
    assert (guild.is_sandbox, guild.api_key, guild.can_submit) == (True, None, True)
    assert guild.sandbox_seconds == 20
