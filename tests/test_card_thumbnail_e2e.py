"""The finished card shows the video's still where the provider has one (issue 12): an
OpenAI-style provider (`content?variant=thumbnail`); a still that fails never stops the
video's delivery or the card's last edit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fake_provider import FakeProvider, Fault
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.harness import SECOND_GUILD_ID, World
from tests.test_card_e2e import fields_of
from tests.test_card_truth_e2e import watch_url
from tests.test_money_e2e import card_of, delivered
from tests.test_tracking_e2e import deliveries


@pytest_asyncio.fixture
async def fake_provider() -> AsyncIterator[FakeProvider]:
    """This module's provider speaks OpenAI's Videos API, stills included."""
    async with FakeProvider(keys={GUILD_A_KEY, GUILD_B_KEY}, dialect="openai") as provider:
        yield provider


@pytest_asyncio.fixture
async def openai_world(world: World) -> World:
    """The bot restarted with the `openai` profile for this provider."""
    config = world.config_with(
        provider={"profile": "openai"},
        defaults={"model": "sora-2", "seconds": 4},
        guilds={str(SECOND_GUILD_ID): {"api_key": GUILD_B_KEY, "seconds": 8}},
    )
    await world.restart(config)
    return world


async def finished_job(world: World) -> int:
    job = await world.submitted_job("A kite lands.", seconds=4)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    await world.wait_until(lambda: watch_url(world, job.card_message_id) is not None)
    return job.id


async def test_the_done_card_shows_the_videos_still(openai_world: World) -> None:
    world = openai_world
    job = await world.job(await finished_job(world))
    assert job.task_id is not None
    [video] = deliveries(world, job.thread_id)
    assert video.files[0][1] == world.provider.content_of(job.task_id)  # delivered whole
    card = card_of(world, job.card_message_id)
    [attachment] = card["attachments"]
    assert attachment["filename"] == "thumbnail.webp"
    assert world.fd.cdn_file(attachment["url"]) == world.provider.content_of(
        job.task_id, "thumbnail"
    )
    assert card["embeds"][0]["thumbnail"]["url"] == attachment["url"]
    assert fields_of(world, job.card_message_id)["Status"] == "Completed"
    assert watch_url(world, job.card_message_id) == (
        f"https://discord.com/channels/{job.guild_id}/{job.thread_id}/{job.delivery_message_id}"
    )
    # Asked for after the video was posted: a still never holds a delivery up.
    assert [r.query for r in world.provider.requests_to("content")] == [
        {},
        {"variant": "thumbnail"},
    ]


async def test_a_still_that_fails_does_not_stop_the_delivery_or_the_card(
    openai_world: World,
) -> None:
    world = openai_world
    world.provider.inject(Fault(route="content", variant="thumbnail", status=500, times=10))
    job = await world.job(await finished_job(world))
    assert job.task_id is not None
    [video] = deliveries(world, job.thread_id)
    assert video.files[0][1] == world.provider.content_of(job.task_id)
    card = card_of(world, job.card_message_id)
    assert fields_of(world, job.card_message_id)["Status"] == "Completed"
    assert "thumbnail" not in card["embeds"][0]
    assert card["attachments"] == []
    asked = [r for r in world.provider.requests_to("content") if r.query]
    assert [r.status for r in asked] == [500] * len(asked)
    assert asked  # it was asked for, and failed
