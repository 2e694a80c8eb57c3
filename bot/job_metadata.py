"""What a create carries in `metadata` so a lost create can be found again, and only ours.

Request keys (`retry:5`, `draft:3:v2`) are unique in one database only: two bots on one
key, or a database started anew, would reuse them. Each database gets a random instance
id at its first use; the `request` a create carries is that id and the job's key, so a
lookup by metadata can never take another bot's video for ours.
"""

from __future__ import annotations

import json
import secrets

from bot.store import Job
from bot.store.api import StoreApi

INSTANCE_META_KEY = "instance_id"


async def instance_id(store: StoreApi) -> str:
    """This database's id, made once (the first writer wins, every caller gets the same)."""
    return await store.meta_setdefault(INSTANCE_META_KEY, secrets.token_hex(6))


def request_tag(instance: str, job: Job) -> str:
    return f"{instance}:{job.request_key}"


async def request_tags(store: StoreApi, job: Job) -> tuple[str, ...]:
    """The `request` values a create of `job` may carry: today's, and the bare key that
    creates sent before instance ids existed."""
    return (request_tag(await instance_id(store), job), job.request_key)


async def create_metadata(store: StoreApi, job: Job) -> str:
    return json.dumps(
        {"storyboard_job": job.id, "request": request_tag(await instance_id(store), job)}
    )
