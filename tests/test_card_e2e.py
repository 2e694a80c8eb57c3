"""The job card tells where the job stands in time (issue 12): submitted, a progress bar
and when it started, how long it took, why it failed, and a link to the video."""

from __future__ import annotations

import re
from typing import Any

from tests.harness import World
from tests.test_money_e2e import card_of, delivered


def fields_of(world: World, message_id: int | None) -> dict[str, str]:
    embed = card_of(world, message_id)["embeds"][0]
    return {f["name"]: f["value"] for f in embed["fields"]}


def progress(world: World, job: Any) -> str:
    return fields_of(world, job.card_message_id).get("Progress", "")


async def test_the_card_says_when_it_was_submitted_how_far_it_is_and_how_long_it_took(
    world: World,
) -> None:
    job = await world.submitted_job("A kite rises.")
    assert re.fullmatch(r"Queued · submitted <t:\d+:R>", progress(world, job))
    world.provider.advance(20)  # in progress, 25 %
    await world.wait_until(lambda: "▰" in progress(world, job))
    assert re.fullmatch(r"▰▰▱▱▱▱▱▱▱▱ 25 % · started <t:\d+:R>", progress(world, job))
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    await world.wait_until(lambda: progress(world, job).startswith("Done in "))
    assert re.fullmatch(r"Done in \d+ s", progress(world, job))


async def test_a_failed_job_says_why_on_the_card_in_one_line(world: World) -> None:
    # An ordinary failure, in the provider's words (a safety refusal is said as what to
    # change: test_moderation_e2e.py).
    reason = "The renderer ran out of memory.\nPlease try later. " + "More words. " * 100
    world.provider.set_outcome(None, "fail", code="video_generation_failed", message=reason)
    job = await world.submitted_job("A famous face.")
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    await world.wait_until(lambda: progress(world, job) != "")
    line = progress(world, job)
    assert line.startswith("The renderer ran out of memory. Please try later. More words.")
    assert "\n" not in line
    assert len(line) <= 180
    assert fields_of(world, job.card_message_id)["Status"] == "Failed"
