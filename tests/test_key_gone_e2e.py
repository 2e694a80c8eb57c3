"""A finished paid video whose key is no longer configured is not called gone.

The key that made a job may leave the config while its video waits for delivery: the
admin moves the server to the sandbox and takes the key out, or rotates the key without
keeping the old one in `previous_api_keys`. The client the bot has instead (the sandbox,
or the new key) answers 404 for a task it never made. That says nothing about the video,
which is still at the provider: the member is not told it is gone, the delivery is tried
again (with its usual backoff and give-up), and once the key is back it is delivered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider import Fault
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.harness import World
from tests.test_money_e2e import delivered, state_is, texts_in
from tests.test_sandbox_review import assert_the_paid_video_was_posted
from tests.test_video_delivery_e2e import config_toml, fetch_video

WITHOUT_THE_KEY: dict[str, dict[str, Any]] = {
    "to the sandbox": {"profile": "sandbox"},
    "rotated": {"api_key": GUILD_B_KEY},
}


@pytest.mark.parametrize("move", list(WITHOUT_THE_KEY))
async def test_a_finished_paid_video_waits_for_its_key_and_is_delivered_once_it_is_back(
    world: World, move: str
) -> None:
    job = await world.submitted_job("A paid lighthouse.")
    # Finished at the provider while its download fails: it waits for its delivery.
    world.provider.inject(Fault(route="content", kind="status", status=500, times=1000))
    world.provider.advance(3600)
    await world.wait_until(lambda: state_is(world, job.id, "completed"))
    guild = WITHOUT_THE_KEY[move]
    await world.restart(world.config_with(guilds={str(GUILD_ID): guild}))
    world.provider.faults.clear()

    async def tried() -> bool:
        return (await world.job(job.id)).delivery_failures >= 1

    await world.wait_until(tried)
    job = await world.job(job.id)
    assert (job.delivered_at, job.delivery_error) == (None, None)
    assert not [t for t in texts_in(world, job.thread_id) if "no longer" in t]

    # The admin puts the old key back where the log line says.
    kept = {**guild, "previous_api_keys": [GUILD_A_KEY]}
    await world.restart(world.config_with(guilds={str(GUILD_ID): kept}))
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert (job.state, job.delivery_error) == ("completed", None)
    assert_the_paid_video_was_posted(world, job.thread_id)


async def test_fetch_video_of_a_paid_job_says_its_key_left_when_its_server_is_in_the_sandbox(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server moved to the sandbox without the key that made a paid video: the admin's
    fetch-video says to add the key back, as after a rotation, not that the sandbox
    "can't do that" (fetch-video's own VideoApi has no sandbox client to fall back on)."""
    job = await world.submitted_job("A paid lighthouse.")
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    path = tmp_path / "config.toml"
    path.write_text(
        config_toml(world).replace(
            f'[guilds."{GUILD_ID}"]\napi_key = "{GUILD_A_KEY}"\n',
            f'[guilds."{GUILD_ID}"]\nprofile = "sandbox"\n',
        )
    )
    path.chmod(0o600)
    out = tmp_path / "paid.mp4"
    code, stdout, stderr = await fetch_video(
        capsys, str(job.id), "--out", str(out), "--config", str(path)
    )
    assert (code, stdout) == (1, "")
    assert stderr == (
        f"error: job #{job.id} was made with a key that is no longer in the config:"
        " add it back under previous_api_keys to fetch its video\n"
    )
    assert not out.exists()
