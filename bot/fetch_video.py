"""`storyboard-bot fetch-video JOB --out FILE`: a job's original video, for an admin.

A member whose video was over their upload limit got a copy compressed to fit (or a still);
the original stays at the provider, reachable only with the key that made the job. This
downloads it as the tracker does (`Tracker.download`: the job's own key, a rotated one from
`previous_api_keys` included), into a temporary file renamed into place once complete.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.config import Config
from bot.store import Job, Store, open_store
from bot.tracker import Tracker
from bot.videos_api import ContentTooLarge, NotFound, VideoApi

MB = 1024 * 1024


class FetchError(Exception):
    """Why the video cannot be fetched, in words for the admin."""


async def _find(store: Store, reference: str) -> Job | None:
    text = reference.strip().lstrip("#")
    if text.isascii() and text.isdigit():
        number = int(text)
        return await store.find_job(number) if number < 2**63 else None
    return await store.job_by_task(text) if text else None


async def fetch_video(config: Config, reference: str, out: Path) -> str:
    """Write job `reference`'s video to `out`; the line to print, or `FetchError`."""
    if config.storage_url is None and not config.storage_path.exists():
        raise FetchError(f"no database at {config.storage_path} (see [storage] path)")
    store = await open_store(config)
    try:
        job = await _find(store, reference)
        if job is None:
            raise FetchError(f"no job {reference!r} in {config.storage_shown}")
        if job.kind != "video":
            raise FetchError(f"job #{job.id} made a character, not a video")
        if job.state != "completed" or job.task_id is None:
            raise FetchError(f"job #{job.id} has no finished video (it is {job.state})")
        cap = int(config.file.tracking.max_download_mb * MB)
        part = out.with_name(out.name + ".part")
        size: int | None = None
        try:
            async with aiohttp.ClientSession() as session:
                api = VideoApi(session, shared_pacing=store.key_pacing())
                tracker = Tracker(store, api, lambda: config)
                size = await tracker.download(job, part, max_bytes=cap)
        except NotFound:
            raise FetchError(
                f"the provider no longer keeps the video of job #{job.id} (task {job.task_id})"
            ) from None
        except ContentTooLarge:
            raise FetchError(
                f"the video of job #{job.id} is over [tracking] max_download_mb"
                f" ({config.file.tracking.max_download_mb:g} MB)"
            ) from None
        finally:
            if size is None:  # failed: no half-written file left behind
                part.unlink(missing_ok=True)
        part.replace(out)
    finally:
        await store.close()
    return f"job #{job.id} (task {job.task_id}): {size / MB:.1f} MB written to {out}"
