"""Sequences a review of issue 17 (the sandbox provider) found that broke the money rules,
kept as regressions. Each drives the real bot through the fake Discord and the fake
provider. (Docstrings describe the defect as it was.)"""

from __future__ import annotations

from tests.fake_discord.standard import GUILD_ID
from tests.harness import World
from tests.test_money_e2e import delivered, texts_in


async def test_a_sandbox_job_cut_off_mid_submit_is_never_looked_for_at_a_real_provider(
    world: World,
) -> None:
    """A sandbox job whose create was cut off (the bot stopped between storing it and
    recording its task id) is "uncertain". If the server has a real provider by the time
    the tracker looks, `Tracker.client_for` (no task id, no key fingerprint) took the
    guild's current client and listed the real provider's jobs with the server's key,
    for a job no provider ever saw, until the horizon. Made in the sandbox, it is
    followed by the sandbox: it can't list, so the member is asked at once."""
    sandbox = world.config_with(guilds={str(GUILD_ID): {"profile": "sandbox"}})
    await world.restart(sandbox)
    job = await world.submitted_job("A lighthouse, cut off.")
    assert job.task_id is not None and job.task_id.startswith("sandbox-")
    await world.stop_bot()
    # As the store holds a job whose create never got its answer recorded.
    await world.sql(
        "UPDATE jobs SET state = 'pending', task_id = NULL, provider_status = NULL WHERE id = ?",
        job.id,
    )
    await world.start_bot(world.config_with())  # the server now has its real provider
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert (job.state, job.resolution) == ("uncertain", "unlistable")
    [notice] = [t for t in texts_in(world, job.thread_id) if f"#{job.id}" in t]
    assert "can't know whether the video service started" in notice
    assert world.provider.requests == []
