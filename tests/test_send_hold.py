"""A create in flight is held by the process sending it (`send_owner`, `send_lease_until`):
another process that finds the pending job (a rolling deploy's new half loading open jobs)
leaves it to the sender's answer, a refusal included, instead of calling it uncertain; a
sender that dies or is stopped holds it no longer than its lease, or not at all."""

from __future__ import annotations

from pathlib import Path

from bot.store.jobs import Store
from tests.backends import open_store, store_sql
from tests.test_store import new_job


async def test_a_held_send_is_left_to_its_sender_and_a_lapsed_one_is_uncertain(
    tmp_path: Path, store_backend: str
) -> None:
    a = await open_store(store_backend, tmp_path)
    b = Store(a.db)  # another process's run over the same database
    try:
        job = await a.create_job(new_job(), send_lease=60)
        assert job.send_owner == a.owner
        # B finds it pending while A's create is out: left alone, still pending.
        seen = await b.mark_unsent_uncertain(job.id, "the bot stopped while sending it")
        assert seen.state == "pending"
        assert await a.renew_send(job.id, 60)
        assert not await b.renew_send(job.id, 60)  # only its sender renews it
        # A's answer decides: here a refusal, which counts nothing.
        refused = await a.mark_submit_failed(job.id, "provider.rejected", {})
        assert refused.state == "submit_failed"
        assert not await a.renew_send(job.id, 60)  # nothing to hold once answered

        # A sender that died: its hold runs out, and then the job is uncertain.
        dead = await a.create_job(new_job("quick:2"), send_lease=60)
        await store_sql(a, "UPDATE jobs SET send_lease_until = send_lease_until - 61")
        lapsed = await b.mark_unsent_uncertain(dead.id, "the bot stopped while sending it")
        assert (lapsed.state, lapsed.error_key) == ("uncertain", "provider.submission_unknown")

        # A sender cut off by a stop lets go: uncertain at once.
        cut = await a.create_job(new_job("quick:3"), send_lease=60)
        await b.release_send(cut.id)  # not B's to let go of
        assert (await b.mark_unsent_uncertain(cut.id, "stopped")).state == "pending"
        await a.release_send(cut.id)
        assert (await b.mark_unsent_uncertain(cut.id, "stopped")).state == "uncertain"

        # A job stored without a hold (before this column existed) is uncertain at once.
        old = await a.create_job(new_job("quick:4"))
        assert (await b.mark_unsent_uncertain(old.id, "stopped")).state == "uncertain"
    finally:
        await a.close()
