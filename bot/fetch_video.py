"""`storyboard-bot fetch-video JOB --out FILE`: a job's original video, for an admin.

A member whose video was over their upload limit got a copy compressed to fit (or a still);
the original stays at the provider, reachable only with the key that made the job. This
downloads it as the tracker does (`Tracker.download`: the job's own key, a rotated one from
`previous_api_keys` included), into a temporary file renamed into place once complete.

A sandbox job (`bot.videos_api.sandbox`) has no video anywhere: its animatic is drawn
again from the store as the bot drew it for the member (`bot.sandbox_videos`: over the
job's reference image when it had one), and the line printed says so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.config import Config
from bot.sandbox_videos import SandboxVideos
from bot.store import Job, Store, open_store
from bot.tracker import Tracker
from bot.transcoder import Transcoder
from bot.videos_api import ContentTooLarge, KeyGone, NotFound, VideoApi
from bot.videos_api.sandbox import is_sandbox_task

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
    """Write job `reference`'s video to `out`; the lines to print, or `FetchError`."""
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
        sandbox = is_sandbox_task(job.task_id)
        try:
            if sandbox:
                size = await _sandbox_animatic(config, store, job, part)
            else:
                async with aiohttp.ClientSession() as session:
                    api = VideoApi(session, shared_pacing=store.key_pacing())
                    # As in the bot: a server now in the sandbox, without the job's key,
                    # falls back to the sandbox client, whose 404 is then `KeyGone`.
                    transcoder = Transcoder()  # never used: this job is no sandbox task
                    api.sandbox = SandboxVideos(store, lambda: config, transcoder).client
                    tracker = Tracker(store, api, lambda: config)
                    try:
                        size = await tracker.download(job, part, max_bytes=cap)
                    finally:
                        await transcoder.close()
        except NotFound:
            raise FetchError(
                f"the provider no longer keeps the video of job #{job.id} (task {job.task_id})"
            ) from None
        except KeyGone:
            raise FetchError(
                f"job #{job.id} was made with a key that is no longer in the config:"
                " add it back under previous_api_keys to fetch its video"
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
    line = f"job #{job.id} (task {job.task_id}): {size / MB:.1f} MB written to {out}"
    if sandbox:
        line += "\na sandbox job: this is its storyboard's animatic, not a generated video"
    return line


async def _sandbox_animatic(config: Config, store: Store, job: Job, dest: Path) -> int:
    """The sandbox job's animatic written to `dest`; its size. The store says the job
    completed, so no clock is asked (the sandbox client's would be this process's)."""
    assert job.task_id is not None
    transcoder = Transcoder()  # this one render
    try:
        if not await SandboxVideos(store, lambda: config, transcoder).render(job.task_id, dest):
            raise FetchError(f"no job with task {job.task_id} in {config.storage_shown}")
    finally:
        await transcoder.close()
    return (await asyncio.to_thread(dest.stat)).st_size
