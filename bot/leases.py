"""Holding a lease in the store while work runs: renewed every third of its length.

A process's claim on a job (its delivery, or the send of its create) lasts a lease, so a
process that dies holds the job no longer than that; one that lives renews it for as long
as the work takes, however long an upload or a provider's answer lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def holding(
    renew: Callable[[], Awaitable[bool]], lease: float, what: str
) -> AsyncIterator[None]:
    """Call `renew` every `lease / 3` seconds while the body runs. `renew` says whether
    the claim is still ours; once it isn't, renewing stops (the body's own compare-and-set
    write then fails). `what` names the claim in the log ("job=7: delivery claim")."""

    async def renewing() -> None:
        while True:
            await asyncio.sleep(lease / 3)
            try:
                held = await renew()
            except Exception as exc:
                # A database blip: the claim still holds for the rest of its lease, so
                # try again at the next turn rather than let it run out mid-work.
                log.warning("%s: could not renew: %r", what, exc)
                continue
            if not held:
                log.warning("%s: lost while the work ran", what)
                return

    task = asyncio.create_task(renewing(), name=f"lease {what}")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])
