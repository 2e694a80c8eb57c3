"""The tracker picks up open jobs that appear in the store after its start.

In a rolling deploy the new process loads the open jobs at its start; a job the old
process creates after that, still running when the old one stops, was followed by
nobody until the next start. The tracker now looks in the store every
`[tracking] rescan_seconds` for open jobs of its shards that it does not follow.
"""

from __future__ import annotations

import time

import pytest

from bot.store.jobs import Store
from bot.videos_api import VideoJob
from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import World
from tests.test_money_e2e import delivered
from tests.test_store import new_job


async def test_a_job_another_process_made_after_this_ones_start_is_delivered(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.restart(world.config_with(tracking={"rescan_seconds": 0.3}))
    # Another process's run over the same database: it stores the job and its create's
    # answer, then stops before following it.
    other = Store(world.bot.store.db)  # type: ignore[attr-defined]
    made = world.provider.add_job(GUILD_A_KEY)
    new = new_job("quick:other-process").model_copy(
        update={
            "guild_id": GUILD_ID,
            "channel_id": world.std.text.id,
            "user_id": world.std.alice.id,
            "locale": "en-US",
            "public_locale": "en-US",
        }
    )
    job = await other.create_job(new)
    answer = VideoJob.model_validate(
        {"id": made.id, "object": "video", "status": "queued", "created_at": int(time.time())}
    )
    job = await other.mark_submitted(job.id, answer)
    assert job.state == "active"

    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert job.state == "completed"
    assert "tracker: following 1 open job(s) found in the store" in caplog.text
