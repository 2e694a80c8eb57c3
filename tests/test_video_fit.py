"""Fitting a video under an upload limit (`bot.video_fit`) and the transcode slots
(`bot.transcoder`), on small noisy videos the tests make with PyAV."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image, ImageChops, ImageStat

import bot.transcoder as transcoder_module
import bot.video_fit as video_fit
from bot.bot import StoryboardBot
from bot.config import ConfigError, parse_config
from bot.transcoder import Transcoder, TranscoderBusy
from bot.video_fit import (
    CannotFit,
    FitResult,
    Probe,
    Unreadable,
    first_frame_jpeg,
    fit_video,
    plan_fit,
    still_frame,
)
from tests.video_samples import make_video


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of 320x240 at about 4 Mbit/s: about 1.7 MB."""
    return make_video(tmp_path_factory.mktemp("video") / "small.mp4")


def duration_of(path: Path) -> float:
    with av.open(str(path)) as container:
        assert container.duration is not None
        return container.duration / av.time_base


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types, in file order."""
    data = path.read_bytes()
    names, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        names.append(data[at + 4 : at + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        assert size >= 8, f"a box of {size} bytes at {at}"
        at += size
    return names


def streams_of(path: Path) -> dict[str, str]:
    """Stream type -> codec, after decoding every frame (a playable file decodes whole)."""
    with av.open(str(path)) as container:
        found = {s.type: s.codec_context.name for s in container.streams}
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 0
    return found


def test_a_video_over_the_limit_is_fitted_as_playable_faststart_h264_aac(
    small: Path, tmp_path: Path
) -> None:
    limit = 400_000
    assert small.stat().st_size > 4 * limit
    out = tmp_path / "fitted.mp4"
    result = fit_video(small, out, limit)
    assert out.stat().st_size <= limit
    assert result.size == out.stat().st_size
    assert streams_of(out) == {"video": "h264", "audio": "aac"}
    assert abs(duration_of(out) - duration_of(small)) <= 0.02 * duration_of(small)
    assert abs(result.duration - duration_of(small)) <= 0.02 * duration_of(small)
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart: the index first
    # Enough bitrate for 320x240: not scaled down.
    assert (result.width, result.height) == (320, 240)


def test_a_silent_video_is_fitted_without_an_audio_stream(tmp_path: Path) -> None:
    source = make_video(tmp_path / "silent.mp4", seconds=2.0, audio=False)
    out = tmp_path / "fitted.mp4"
    result = fit_video(source, out, 200_000)
    assert result.size <= 200_000
    assert streams_of(out) == {"video": "h264"}
    assert abs(duration_of(out) - duration_of(source)) <= 0.02 * duration_of(source)


def test_the_picture_is_scaled_down_a_step_only_below_the_floor(tmp_path: Path) -> None:
    source = make_video(tmp_path / "vga.mp4", width=640, height=480, seconds=2.0, bitrate=3_000_000)
    # About 360 kbit/s of video: under 640x480's floor (0.05 x 640 x 480 x 30 = 461 kbit/s),
    # over 480x360's (259 kbit/s).
    result = fit_video(source, tmp_path / "fitted.mp4", 120_000)
    assert (result.width, result.height) == (480, 360)
    assert result.size <= 120_000
    # With room for 640x480, it stays.
    roomy = fit_video(source, tmp_path / "roomy.mp4", 250_000)
    assert (roomy.width, roomy.height) == (640, 480)


@pytest.mark.parametrize(
    ("size", "fps", "video_bps", "expected"),
    [
        ((1280, 720), 30, 5_000_000, (1280, 720)),
        # 720p's floor at 30 frames/s is 1,382,400 bit/s: just over it stays, under steps down.
        ((1280, 720), 30, 1_383_000, (1280, 720)),
        ((1280, 720), 30, 1_380_000, (960, 540)),
        ((1280, 720), 30, 400_000, (640, 360)),
        ((1280, 720), 30, 200_000, (426, 240)),
        # Portrait keeps its aspect; odd results are made even.
        ((720, 1280), 30, 1_380_000, (540, 960)),
        ((1792, 1024), 30, 2_000_000, (1260, 720)),
        # Fewer frames a second, more bits for each: no step at 24 frames/s.
        ((1280, 720), 24, 1_380_000, (1280, 720)),
    ],
)
def test_plan_steps_down_only_when_the_bitrate_is_below_the_floor(
    size: tuple[int, int], fps: int, video_bps: int, expected: tuple[int, int]
) -> None:
    source = Probe(width=size[0], height=size[1], fps=fps, duration=15.0, has_audio=False)
    plan = plan_fit(source, video_bps)
    assert plan is not None
    assert (plan.width, plan.height) == expected
    assert plan.video_bps == video_bps


def test_plan_gives_the_audio_a_share_and_refuses_below_the_smallest_floor() -> None:
    source = Probe(width=1280, height=720, fps=30, duration=15.0, has_audio=True)
    roomy = plan_fit(source, 5_500_000)
    assert roomy is not None
    assert (roomy.audio_bps, roomy.video_bps) == (128_000, 5_372_000)
    tight = plan_fit(source, 500_000)
    assert tight is not None
    assert (tight.audio_bps, tight.width, tight.height) == (48_000, 640, 360)
    # 240 lines' floor is 153,600 bit/s of video at 30 frames/s: less is no video at all.
    assert plan_fit(source, 150_000 + 32_000) is None


def test_an_impossible_limit_cannot_fit_and_the_still_is_the_middle_frame(
    small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "never.mp4"
    with pytest.raises(CannotFit):
        fit_video(small, out, 20_000)
    assert not out.exists()  # never a broken file
    still = Image.open(io.BytesIO(still_frame(small)))
    assert (still.format, still.size) == ("JPEG", (320, 240))
    with av.open(str(small)) as container:
        frames = [f.to_image() for f in container.decode(video=0)]
    assert len(frames) == 90

    def distance(frame: Image.Image) -> float:
        return sum(ImageStat.Stat(ImageChops.difference(still.convert("RGB"), frame)).mean)

    middle = distance(frames[45])
    assert middle < min(distance(frames[0]), distance(frames[89]))
    thumb = Image.open(io.BytesIO(first_frame_jpeg(small)))
    assert thumb.format == "JPEG"
    at_one_second = sum(
        ImageStat.Stat(ImageChops.difference(thumb.convert("RGB"), frames[30])).mean
    )
    assert at_one_second < sum(
        ImageStat.Stat(ImageChops.difference(thumb.convert("RGB"), frames[45])).mean
    )


def test_a_still_is_made_smaller_to_fit_a_byte_limit(small: Path) -> None:
    full = still_frame(small)
    smaller = still_frame(small, max_bytes=len(full) // 3)
    assert len(smaller) <= len(full) // 3
    assert Image.open(io.BytesIO(smaller)).format == "JPEG"


def test_a_file_that_is_not_a_video_is_unreadable(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(5000))
    with pytest.raises(Unreadable):
        fit_video(junk, tmp_path / "out.mp4", 1000)
    with pytest.raises(Unreadable):
        still_frame(junk)


def test_an_output_still_over_the_limit_is_encoded_again_lower(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """x264's one-pass bitrate can land over its aim: the first encode is made to miss."""
    real = video_fit._encode
    plans: list[video_fit.Plan] = []

    def missing_once(src: Path, dst: Path, plan: video_fit.Plan, *rest: object) -> None:
        plans.append(plan)
        real(src, dst, plan, *rest)  # type: ignore[arg-type]
        if len(plans) == 1:
            with dst.open("ab") as fh:
                fh.write(bytes(200_000))  # over the limit whatever x264 did

    monkeypatch.setattr(video_fit, "_encode", missing_once)
    result = fit_video(small, tmp_path / "out.mp4", 400_000)
    assert result.encodes == 2
    assert len(plans) == 2
    assert plans[1].video_bps < plans[0].video_bps
    assert result.size <= 400_000


async def test_transcodes_wait_for_a_slot_and_a_full_queue_is_refused(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def blocking_fit(src: Path, dst: Path, limit: int, **_: object) -> FitResult:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        started.set()
        release.wait(30)
        with lock:
            running -= 1
        return FitResult(size=1, duration=1.0, width=2, height=2, encodes=1)

    monkeypatch.setattr(transcoder_module, "fit_video", blocking_fit)
    transcoder = Transcoder(slots=1, queue=1)
    first = asyncio.create_task(transcoder.fit(small, tmp_path / "a.mp4", 1))
    await asyncio.to_thread(started.wait, 30)
    second = asyncio.create_task(transcoder.fit(small, tmp_path / "b.mp4", 1))
    try:
        await asyncio.sleep(0)  # the second runs up to its wait for the slot
        assert transcoder.waiting == 1
        with pytest.raises(TranscoderBusy):
            await transcoder.fit(small, tmp_path / "c.mp4", 1)
    finally:
        release.set()
    assert (await first).encodes == 1
    assert (await second).encodes == 1
    assert most == 1  # never two at once in one slot


async def test_a_paid_transcode_goes_before_free_renders_and_their_queue_is_apart(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Animatics are free (previews, sandbox jobs); a delivery's transcode is a video
    somebody paid for. Free renders waiting for the slot let a paid one go first, and a
    queue full of them does not refuse it."""
    release = threading.Event()
    started = threading.Event()
    order: list[str] = []

    def blocking_fit(src: Path, dst: Path, limit: int, **_: object) -> FitResult:
        order.append(dst.stem)
        if dst.stem == "holder":
            started.set()
            release.wait(30)
        return FitResult(size=1, duration=1.0, width=2, height=2, encodes=1)

    def render(board: object, dst: Path, **_: object) -> object:
        order.append(dst.stem)
        return None

    monkeypatch.setattr(transcoder_module, "fit_video", blocking_fit)
    monkeypatch.setattr(transcoder_module, "render_animatic", render)
    transcoder = Transcoder(slots=1, queue=2)
    holder = asyncio.create_task(transcoder.fit(small, tmp_path / "holder.mp4", 1))
    await asyncio.to_thread(started.wait, 30)
    board: Any = None
    free = [
        asyncio.create_task(transcoder.animatic(board, tmp_path / f"free{n}.mp4")) for n in (1, 2)
    ]
    try:
        await asyncio.sleep(0)  # both free renders wait for the slot
        assert transcoder.waiting == 2
        with pytest.raises(TranscoderBusy):  # the free queue is full...
            await transcoder.animatic(board, tmp_path / "free3.mp4")
        # ...and a paid transcode still queues, behind nobody.
        paid = asyncio.create_task(transcoder.fit(small, tmp_path / "paid.mp4", 1))
        await asyncio.sleep(0)
        assert transcoder.waiting == 3
    finally:
        release.set()
    await asyncio.gather(holder, paid, *free)
    assert order == ["holder", "paid", "free1", "free2"]


async def test_a_waiter_cancelled_before_or_as_its_turn_came_loses_no_slot(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transcoder_module, "still_frame", lambda src, max_bytes=None: b"jpeg")
    transcoder = Transcoder(slots=1, queue=4)
    await transcoder._acquire(transcoder_module.PAID)  # a transcode holds the only slot

    early = asyncio.create_task(transcoder.still(small))
    await asyncio.sleep(0)
    early.cancel()  # before its turn: it leaves the queue
    with pytest.raises(asyncio.CancelledError):
        await early
    assert transcoder.waiting == 0

    late = asyncio.create_task(transcoder.still(small))
    await asyncio.sleep(0)
    assert transcoder.waiting == 1
    transcoder._release()  # the transcode ends: its slot is handed to the waiter...
    late.cancel()  # ...cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await late
    # The slot was passed on, not lost with it.
    assert await asyncio.wait_for(transcoder.still(small), 30) == b"jpeg"
    assert await asyncio.wait_for(transcoder.still(small), 30) == b"jpeg"
    await transcoder.close(grace=30)


async def test_a_waiter_cancelled_just_before_the_slot_frees_ends_cancelled(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiter cancelled (a stop, a timeout) in the same turn as the running transcode
    ends: the freed slot skips it, and it ends as cancelled, not with an error of the
    queue's own (a ValueError that a caller's `asyncio.timeout` would not turn into its
    TimeoutError)."""
    monkeypatch.setattr(transcoder_module, "still_frame", lambda src, max_bytes=None: b"jpeg")
    transcoder = Transcoder(slots=1, queue=4)
    await transcoder._acquire(transcoder_module.PAID)  # a transcode holds the only slot

    waiter = asyncio.create_task(transcoder.still(small))
    await asyncio.sleep(0)
    assert transcoder.waiting == 1
    waiter.cancel()  # its turn is cancelled at once, it runs again only next turn...
    transcoder._release()  # ...and the transcode ends before that
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert transcoder.waiting == 0
    # The slot is free, once: two stills after it, one at a time.
    assert await asyncio.wait_for(transcoder.still(small), 30) == b"jpeg"
    assert await asyncio.wait_for(transcoder.still(small), 30) == b"jpeg"
    await transcoder.close(grace=30)


async def test_a_card_still_does_not_wait_for_a_busy_slot(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delivery's still for the card (`wait=False`) is skipped while a transcode holds the
    slot, though the queue has room; with the slot free it is made, scaled down."""
    started = threading.Event()
    release = threading.Event()

    def blocking_fit(src: Path, dst: Path, limit: int, **_: object) -> FitResult:
        started.set()
        release.wait(30)
        return FitResult(size=1, duration=1.0, width=2, height=2, encodes=1)

    monkeypatch.setattr(transcoder_module, "fit_video", blocking_fit)
    transcoder = Transcoder(slots=1, queue=4)
    first = asyncio.create_task(transcoder.fit(small, tmp_path / "a.mp4", 1))
    await asyncio.to_thread(started.wait, 30)
    try:
        with pytest.raises(TranscoderBusy):
            await transcoder.thumbnail(small, 200_000, 160, wait=False)
        assert transcoder.waiting == 0  # it did not queue
    finally:
        release.set()
    await first
    still = Image.open(io.BytesIO(await transcoder.thumbnail(small, 200_000, 160, wait=False)))
    assert (still.format, still.size) == ("JPEG", (160, 120))


async def test_a_cancelled_caller_frees_its_slot_only_when_the_thread_ends(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()
    release = threading.Event()

    def blocking_still(src: Path, max_bytes: int | None = None) -> bytes:
        started.set()
        release.wait(30)
        return b"jpeg"

    monkeypatch.setattr(transcoder_module, "still_frame", blocking_still)
    transcoder = Transcoder(slots=1, queue=0)
    caller = asyncio.create_task(transcoder.still(small))
    await asyncio.to_thread(started.wait, 30)
    caller.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await caller
        # The thread still runs: its slot is taken, and with no queue a new caller is refused.
        with pytest.raises(TranscoderBusy):
            await transcoder.still(small)
    finally:
        release.set()
    await transcoder.close(grace=30)
    assert await transcoder.still(small) == b"jpeg"


def test_a_stop_ends_a_transcode_between_frames(small: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(video_fit.Stopped):
        fit_video(small, tmp_path / "out.mp4", 400_000, stop=stop)


def test_media_section_defaults_to_one_slot_and_names_a_bad_value(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    base: dict[str, object] = {"provider": {"base_url": "https://relay.example/v1"}}
    media = parse_config(base, path, env={}).file.media
    assert (media.transcode_slots, media.transcode_queue) == (1, 4)
    with pytest.raises(ConfigError) as exc:
        parse_config({**base, "media": {"transcode_slots": 0}}, path, env={})
    assert exc.value.describe() == (
        f"{path}: media.transcode_slots: Input should be greater than or equal to 1"
    )


async def test_the_bot_takes_its_transcode_slots_from_the_config(tmp_path: Path) -> None:
    data: dict[str, object] = {
        "provider": {"base_url": "https://relay.example/v1"},
        "media": {"transcode_slots": 2, "transcode_queue": 7},
    }
    bot = StoryboardBot(parse_config(data, tmp_path / "config.toml", env={}))
    assert (bot.transcoder.slots, bot.transcoder.queue) == (2, 7)
