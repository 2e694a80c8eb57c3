"""A finished video over the member's upload limit (issue 13), end to end through both fakes:
compressed to fit and still playable, or a still frame with the reason; the original stays
reachable with `storyboard-bot fetch-video`."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import pytest
from PIL import Image

from bot.cli import main
from bot.store import Job
from bot.transcoder import TranscoderBusy
from bot.video_fit import FitResult
from tests.backends import storage_toml
from tests.fake_discord import RecordedCall
from tests.fake_discord.models import Channel, Guild, Member
from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.harness import SECOND_GUILD_ID, SEND, World
from tests.video_samples import make_video

MB = 1024 * 1024


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 320x240 with sound, about 1.7 MB."""
    return make_video(tmp_path_factory.mktemp("video") / "sample.mp4")


@pytest.fixture(scope="module")
def original(sample: Path) -> bytes:
    """The sample's bytes: what the provider serves as every job's video."""
    return sample.read_bytes()


def duration_of(path: Path) -> float:
    with av.open(str(path)) as container:
        assert container.duration is not None
        return container.duration / av.time_base


async def delivered(world: World, job_id: int) -> bool:
    return (await world.job(job_id)).delivered_at is not None


async def finished_job(
    world: World,
    limit: int,
    *,
    locale: str = "en-US",
    guild: Guild | None = None,
    channel: Channel | None = None,
    user: Member | None = None,
) -> tuple[Job, RecordedCall]:
    """A 10 s job whose interaction reported upload limit `limit`, finished and delivered:
    the job and the post that delivered it."""
    ix = await world.fd.run_slash_command(
        guild=guild or world.std.guild,
        channel=channel or world.std.text,
        user=user or world.std.alice,
        name="storyboard",
        options={"shots": 1, "seconds": 10},
        attachment_size_limit=limit,
        locale=locale,
    )
    await ix.wait_callback()
    await world.submit(ix, ["A kite over the sea."])
    job = (await world.jobs())[-1]
    assert job.filesize_limit == limit
    world.provider.advance(120)  # queued 5 s, runs 60 s; its content is kept an hour
    await world.wait_until(lambda: delivered(world, job.id), within=60)
    job = await world.job(job.id)
    [post] = [
        c
        for c in world.fd.calls_to(SEND)
        if c.status == 200 and c.response["id"] == str(job.delivery_message_id)
    ]
    return job, post


def opened(data: bytes, tmp_path: Path, name: str = "posted.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    names, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        names.append(data[at + 4 : at + 8].decode("latin-1"))
        assert size >= 8
        at += size
    return names


COMPRESSED = {
    "en-US": (
        "<@{alice}> your video is ready (10 s, sora-2). It is 1.6 MB, over this server's upload"
        " limit (391 KB), so I compressed it to fit: {size}, 320x240. For the original file,"
        " ask an admin (video #1)."
    ),
    "zh-CN": (
        "<@{alice}> 你的视频已完成（10 秒，sora-2）。原视频 1.6 MB，超过了本服务器的上传上限"
        "（391 KB），所以我把它压缩到了 {size}，320x240。需要原文件请联系管理员（视频 #1）。"
    ),
}


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
async def test_a_video_over_the_limit_arrives_compressed_playable_and_under_it(
    world: World, sample: Path, original: bytes, tmp_path: Path, locale: str
) -> None:
    assert len(original) == pytest.approx(1.65 * MB, rel=0.1)
    world.provider.serve_video(original)
    world.std.guild.preferred_locale = locale  # the post is public: the server's language
    job, post = await finished_job(world, 400_000, locale=locale)
    [(name, data)] = post.files
    assert name == f"storyboard-{job.id}.mp4"
    assert len(data) <= 400_000
    posted = opened(data, tmp_path)
    with av.open(str(posted)) as container:
        assert {s.type: s.codec_context.name for s in container.streams} == {
            "video": "h264",
            "audio": "aac",
        }
        assert sum(1 for _ in container.decode(video=0)) == 90  # every frame plays
    assert abs(duration_of(posted) - duration_of(sample)) <= 0.02 * duration_of(sample)
    boxes = top_level_boxes(posted)
    assert boxes.index("moov") < boxes.index("mdat")
    size = f"{round(len(data) / 1024)} KB"
    assert post.json["content"] == COMPRESSED[locale].format(
        alice=world.std.alice.id, size=size, task_id=job.task_id
    )
    assert post.json["allowed_mentions"] == {"parse": [], "users": [world.std.alice.id]}
    assert job.delivery_error is None


async def test_a_video_within_a_big_limit_is_posted_untouched(
    world: World, original: bytes
) -> None:
    world.provider.serve_video(original)
    job, post = await finished_job(world, 50 * MB)
    [(name, data)] = post.files
    assert (name, data) == (f"storyboard-{job.id}.mp4", original)
    assert post.json["content"] == (
        f"<@{world.std.alice.id}> your video #{job.id} is ready (10 s, sora-2, 1.6 MB)."
    )


async def test_a_video_no_playable_copy_of_fits_gets_a_still_and_the_reason(
    world: World, original: bytes
) -> None:
    world.provider.serve_video(original)
    job, post = await finished_job(world, 24_000)  # a full-quality still is 26 KB
    [(name, data)] = post.files
    assert name == f"storyboard-{job.id}.jpg"
    assert len(data) <= 24_000
    still = Image.open(io.BytesIO(data))
    assert (still.format, still.size) == ("JPEG", (320, 240))
    assert post.json["content"] == (
        f"<@{world.std.alice.id}> your video is ready (10 s, sora-2), but this server's upload"
        " limit (23 KB) is too small for a playable copy of it (the video is 1.6 MB), so here"
        " is a still from the middle. For the video, ask an admin (video #1)."
    )


async def test_discord_refusing_the_fitted_file_as_too_large_gets_the_notice(
    world: World, original: bytes
) -> None:
    world.provider.serve_video(original)
    world.fd.fail_next(
        lambda c: c.route == SEND and bool(c.files),
        status=413,
        code=40005,
        message="Request entity too large",
    )
    job, post = await finished_job(world, 400_000)
    assert post.files == []
    assert post.json["content"] == (
        f"<@{world.std.alice.id}> your video #{job.id} is ready, but it is larger than this"
        " server's upload limit (391 KB), so I can't post it here. A server admin can fetch it"
        " for you."
    )


def write_config(world: World, tmp_path: Path) -> Path:
    """The bot's config as an admin has it on disk: the same database and keys."""
    path = tmp_path / "config.toml"
    path.write_text(config_toml(world))
    path.chmod(0o600)
    return path


def config_toml(world: World) -> str:
    return (
        f'[provider]\nbase_url = "{world.provider.base_url}"\n'
        + storage_toml(world.storage)
        + f'[guilds."{GUILD_ID}"]\napi_key = "{GUILD_A_KEY}"\n'
        f'[guilds."{SECOND_GUILD_ID}"]\napi_key = "{GUILD_B_KEY}"\nseconds = 10\n'
    )


async def fetch_video(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`storyboard-bot fetch-video ...` as an admin runs it (`bot.cli.main`, in a thread of
    its own with its own event loop, while the fakes keep serving on this one)."""
    code = await asyncio.to_thread(main, ["fetch-video", *args])
    out, err = capsys.readouterr()
    return code, out, err


async def test_an_admin_fetches_the_original_with_each_guilds_key(
    world: World, original: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.provider.serve_video(original)
    first, post = await finished_job(world, 400_000)
    assert len(post.files[0][1]) < len(original)  # the member got a compressed copy
    second, _ = await finished_job(
        world,
        400_000,
        guild=world.second,
        channel=world.second_channel,
        user=world.carol,
    )
    config = write_config(world, tmp_path)
    for job, key in ((first, GUILD_A_KEY), (second, GUILD_B_KEY)):
        out = tmp_path / f"original-{job.id}.mp4"
        before = len(world.provider.requests_to("content"))
        code, stdout, stderr = await fetch_video(
            capsys, str(job.id), "--out", str(out), "--config", str(config)
        )
        assert (code, stderr) == (0, ""), stderr
        assert stdout == f"job #{job.id} (task {job.task_id}): 1.6 MB written to {out}\n"
        assert out.read_bytes() == original
        [download] = world.provider.requests_to("content")[before:]
        assert download.key == key  # the job's own guild's key (the provider isolates keys)
        assert GUILD_A_KEY not in stdout + stderr
        assert GUILD_B_KEY not in stdout + stderr
    # By the provider's task id too; an unknown job is refused, nothing written.
    code, stdout, _ = await fetch_video(
        capsys, first.task_id or "", "--out", str(tmp_path / "by-task.mp4"), "--config", str(config)
    )
    assert code == 0
    assert (tmp_path / "by-task.mp4").read_bytes() == original
    missing = tmp_path / "missing.mp4"
    code, stdout, stderr = await fetch_video(
        capsys, "99", "--out", str(missing), "--config", str(config)
    )
    assert (code, stdout) == (1, "")
    assert stderr == f"error: no job '99' in {world.config.storage_shown}\n"
    assert not missing.exists()


async def test_fetch_video_says_when_the_provider_no_longer_keeps_it(
    world: World, original: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.provider.serve_video(original)
    job, _ = await finished_job(world, 50 * MB)
    world.provider.expire_content(job.task_id or "")
    config = write_config(world, tmp_path)
    out = tmp_path / "gone.mp4"
    code, stdout, stderr = await fetch_video(
        capsys, str(job.id), "--out", str(out), "--config", str(config)
    )
    assert (code, stdout) == (1, "")
    assert stderr == (
        f"error: the provider no longer keeps the video of job #{job.id} (task {job.task_id})\n"
    )
    assert not out.exists()
    assert not out.with_name(out.name + ".part").exists()


async def test_when_every_transcode_slot_is_busy_the_delivery_waits_and_comes_later(
    world: World, original: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full queue does not hold a tracker worker: the delivery is tried again later."""
    transcoder = world.bot.transcoder
    real_fit = transcoder.fit
    refused = 0

    async def busy_once(src: Path, dst: Path, limit_bytes: int) -> FitResult:
        nonlocal refused
        if not refused:
            refused += 1
            raise TranscoderBusy
        return await real_fit(src, dst, limit_bytes)

    monkeypatch.setattr(transcoder, "fit", busy_once)
    world.provider.serve_video(original)
    job, post = await finished_job(world, 400_000)
    assert refused == 1
    assert len(world.provider.requests_to("content")) == 2  # downloaded again on the retry
    [(name, data)] = post.files
    assert name == f"storyboard-{job.id}.mp4"
    assert len(data) <= 400_000
    assert "so I compressed it to fit" in post.json["content"]
    # Nothing else was delivered meanwhile: no notice, no second copy.
    in_thread = [c for c in world.fd.calls_to(SEND) if c.params["channel_id"] == str(job.thread_id)]
    assert [c for c in in_thread if c.files or "ready" in c.json["content"]] == [post]
