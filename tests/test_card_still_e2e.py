"""The finished card's still when the provider offers none (issue 13): delivery makes one
from the downloaded video's first second, keeps it, and every later edit of the card, after
a restart too, attaches it. A video that cannot be decoded is still delivered, stillless."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from tests.harness import World
from tests.test_card_e2e import fields_of
from tests.test_card_truth_e2e import watch_url
from tests.test_money_e2e import EDIT, card_of, delivered, press
from tests.test_tracking_e2e import deliveries
from tests.video_samples import make_video


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """2 s of 960x540 (16:9), bigger than a thumbnail, small enough to post untouched."""
    path = tmp_path_factory.mktemp("still") / "wide.mp4"
    return make_video(
        path, width=960, height=540, seconds=2, fps=10, bitrate=800_000, audio=False
    ).read_bytes()


def frames(data: bytes, tmp_path: Path) -> tuple[Image.Image, Image.Image]:
    """The video's first frame and its first at or after 1 s, decoded here (not by the
    bot's code)."""
    path = tmp_path / "reference.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        decoded = [(f.time, f.to_image()) for f in container.decode(video=0)]
    later = [image for time, image in decoded if time is not None and time >= 1.0]
    return decoded[0][1], later[0]


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean difference of two pictures (0-255) at a coarse size, where grain averages out."""
    size = (96, 54)
    a, b = a.convert("RGB").resize(size), b.convert("RGB").resize(size)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


async def finished(world: World, job_id: int) -> None:
    await world.wait_until(lambda: delivered(world, job_id))
    job = await world.job(job_id)
    await world.wait_until(lambda: watch_url(world, job.card_message_id) is not None)


def card_still(world: World, message_id: int | None) -> bytes:
    """The card's attached still, checked to be what its embed shows."""
    card = card_of(world, message_id)
    [attachment] = card["attachments"]
    assert attachment["filename"] == "thumbnail.jpg"
    assert card["embeds"][0]["thumbnail"]["url"] == attachment["url"]
    data: bytes = world.fd.cdn_file(attachment["url"])
    return data


async def test_the_done_card_shows_a_still_of_the_videos_first_second(
    world: World, wide: bytes, tmp_path: Path
) -> None:
    world.provider.serve_video(wide)
    job = await world.submitted_job("A kite lands.")
    running = copy.deepcopy(card_of(world, job.card_message_id))
    world.provider.advance(3600)
    await finished(world, job.id)
    job = await world.job(job.id)
    [video] = deliveries(world, job.thread_id)
    assert video.files[0][1] == wide  # posted whole, before and apart from the still
    assert (job.delivery_error, job.delivery_failures) == (None, 0)
    assert fields_of(world, job.card_message_id)["Status"] == "Completed"
    # The relay offers no still: nothing was asked of it but the video.
    assert [r.query for r in world.provider.requests_to("content")] == [{}]
    data = card_still(world, job.card_message_id)
    assert len(data) <= 200 * 1024
    still = Image.open(io.BytesIO(data))
    assert still.format == "JPEG"
    assert still.size == (480, 270)  # the long side at 480, the video's 16:9 kept
    first, at_one_second = frames(wide, tmp_path)
    # The frame at 1 s (the camera pans: the first frame differs), JPEG's loss aside.
    assert difference(still, at_one_second) < difference(still, first) / 3

    # After a restart, a later edit of the card (an old Cancel pressed) attaches it again.
    await world.restart()
    edits = len(world.fd.calls_to(EDIT))
    ix = await press(world, running, f"sb:cancel:{job.id}", stale=True)
    assert ix.callback is not None
    await world.wait_until(lambda: len(world.fd.calls_to(EDIT)) > edits)
    [edit] = world.fd.calls_to(EDIT)[edits:]
    assert edit.status == 200
    assert edit.files == [("thumbnail.jpg", data)]
    assert card_still(world, job.card_message_id) == data


async def test_a_video_that_cannot_be_decoded_is_delivered_without_a_still(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # The fake provider's default video: an MP4 header over noise.
    job = await world.submitted_job("A kite lands.")
    world.provider.advance(3600)
    await finished(world, job.id)
    job = await world.job(job.id)
    assert job.task_id is not None
    [video] = deliveries(world, job.thread_id)
    assert video.files[0][1] == world.provider.content_of(job.task_id)
    assert (job.delivery_error, job.delivery_failures) == (None, 0)
    # At the first attempt: the admin's log shows no failed delivery, only the missing still.
    assert not [r for r in caplog.records if r.name == "bot.tracker" and "failed" in r.message]
    assert [r.message for r in caplog.records if "no still for the card" in r.message]
    card = card_of(world, job.card_message_id)
    assert fields_of(world, job.card_message_id)["Status"] == "Completed"
    assert "thumbnail" not in card["embeds"][0]
    assert card["attachments"] == []
    assert await world.bot.store.job_still(job.id) is None
