"""Sequences a review of issue 17 (the sandbox provider) found that broke the money rules,
kept as regressions. Each drives the real bot through the fake Discord and the fake
provider. (Docstrings describe the defect as it was.)"""

from __future__ import annotations

from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider import Fault
from tests.fake_provider.fixtures import GUILD_A_KEY
from tests.harness import World
from tests.test_money_e2e import delivered, state_is, texts_in
from tests.test_sandbox_e2e import video_posts


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


async def test_a_paid_job_is_delivered_after_its_server_moves_to_the_sandbox(
    world: World,
) -> None:
    """An admin tries the sandbox on a live server (keeping its key) and restarts while a
    paid job runs. `Tracker.client_for` asks `VideoApi.client_for_fingerprint`, which
    knows the job's key only from this process's memory and otherwise falls back to the
    guild's client: the sandbox's. It answers 404 for the real task id, which
    `Tracker._look` takes for a key no longer configured: the paid video, finished at the
    provider, is never delivered (closed as expired at the horizon, no Retry)."""
    job = await world.submitted_job("A paid lighthouse.")
    assert job.task_id is not None and not job.task_id.startswith("sandbox-")
    config = world.config_with(
        guilds={str(GUILD_ID): {"api_key": GUILD_A_KEY, "profile": "sandbox"}}
    )
    await world.restart(config)
    world.provider.advance(3600)  # the paid video is finished at the provider
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert (job.state, job.delivery_error) == ("completed", None)
    assert_the_paid_video_was_posted(world, job.thread_id)


async def test_a_finished_paid_video_is_not_called_gone_after_a_move_to_the_sandbox(
    world: World,
) -> None:
    """Worse than the running job: a paid video finished and waiting for its delivery
    (the provider's download was failing) is downloaded, after the restart, from the
    sandbox client, whose 404 the delivery takes for "the provider no longer keeps the
    video": the member is told it is gone and the job is closed."""
    job = await world.submitted_job("A paid lighthouse.")
    world.provider.inject(Fault(route="content", kind="status", status=500, times=1000))
    world.provider.advance(3600)
    await world.wait_until(lambda: state_is(world, job.id, "completed"))
    config = world.config_with(
        guilds={str(GUILD_ID): {"api_key": GUILD_A_KEY, "profile": "sandbox"}}
    )
    await world.restart(config)
    world.provider.faults.clear()
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert (job.state, job.delivery_error) == ("completed", None)
    assert not [t for t in texts_in(world, job.thread_id) if "no longer" in t]
    assert_the_paid_video_was_posted(world, job.thread_id)


def assert_the_paid_video_was_posted(world: World, thread_id: int | None) -> None:
    """The provider's video, downloaded with the server's key, in the job's thread, and
    not passed off as a sandbox preview."""
    [post] = video_posts(world, thread_id)
    assert "Sandbox preview" not in str(post.json["content"])
    last = world.provider.requests_to("content")[-1]
    assert (last.status, last.key) == (200, GUILD_A_KEY)


async def test_a_sandbox_cards_retry_pays_nothing_after_the_server_moves_to_a_paid_provider(
    world: World,
) -> None:
    """A free preview's card says "nothing paid". After the server moved to a paid
    provider, its Retry (one click) made a paid video of it; a completed one's Create
    character would have sent a sandbox task id to the provider. Both are gone from such
    a card; Edit & redo (a form the member submits knowingly) stays."""
    from tests.test_money_e2e import button_ids, card_of, press
    from tests.test_sandbox_e2e import sandbox_world

    await sandbox_world(world)
    job = await world.submitted_job("A free lighthouse.")
    cancel = await press(world, job.card_message_id or 0, f"sb:cancel:{job.id}")
    await world.wait_reply(cancel)
    await world.wait_until(lambda: state_is(world, job.id, "cancelled"))
    await world.wait_until(
        lambda: f"sb:retry:{job.id}" in button_ids(card_of(world, job.card_message_id))
    )
    card = card_of(world, job.card_message_id)  # free to retry, in the sandbox

    await world.restart(world.config_with())  # the server's real provider and key
    retry = await press(world, card, f"sb:retry:{job.id}")
    assert retry.callback is not None
    assert retry.callback["data"]["content"] == (
        f"Video #{job.id} is now: Cancelled. That button no longer applies, and nothing was sent."
    )
    await world.wait_until(
        lambda: (
            button_ids(card_of(world, job.card_message_id))
            == [f"sb:remix:{job.id}", f"sb:details:{job.id}"]
        )
    )
    assert world.provider.requests == []
    assert len(await world.jobs()) == 1


async def test_a_paid_create_cut_off_is_looked_up_at_its_provider_after_a_move_to_the_sandbox(
    world: World,
) -> None:
    """A paid job whose create reached the provider but whose answer was never recorded
    (a stop cut it off), on a server then moved to the sandbox keeping its key. The job
    is followed with that key (`client_for_fingerprint`), but was given the sandbox's
    profile, which has no list route: the bot said it can't know whether the video
    service started and left the member to decide (a resend pays twice), where the
    provider could be asked, as before the move. A kept key is now used with the relay
    profile."""
    job = await world.submitted_job("A paid lighthouse, cut off.")
    assert job.task_id is not None and not job.task_id.startswith("sandbox-")
    await world.stop_bot()
    # As the store holds a job whose create reached the provider, its answer unrecorded.
    await world.sql(
        "UPDATE jobs SET state = 'pending', task_id = NULL, provider_status = NULL,"
        " send_lease_until = NULL WHERE id = ?",
        job.id,
    )
    config = world.config_with(
        guilds={str(GUILD_ID): {"api_key": GUILD_A_KEY, "profile": "sandbox"}}
    )
    await world.start_bot(config)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert (job.state, job.resolution, job.delivery_error) == ("completed", None, None)
    assert not [t for t in texts_in(world, job.thread_id) if "can't know whether" in t]
    assert_the_paid_video_was_posted(world, job.thread_id)
    assert len(world.provider.requests_to("create")) == 1
