"""The /v1/videos routes of the fake provider."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast, get_args

from aiohttp import web

from tests.fake_provider.forms import ApiError, FieldError
from tests.fake_provider.jobs import Dialect, FakeJob, Outcome, make_job_id
from tests.fake_provider.media import VARIANT_CONTENT_TYPES, Variant, fake_content
from tests.fake_provider.records import RecordedFile, RecordedRequest

RECORD = web.RequestKey("fake_provider_record", RecordedRequest)
PROBLEMS = web.RequestKey("fake_provider_problems", list[FieldError])
DEFAULTS: dict[Dialect, dict[str, str]] = {
    "relay": {"model": "sora-2", "seconds": "10", "size": "1280x720"},
    "openai": {"model": "sora-2", "seconds": "4", "size": "720x1280"},
}
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 20, 100


def _relay_size(size: str) -> str:
    """The relay ignores the numbers: wider than high is landscape, else portrait."""
    if not size:
        return DEFAULTS["relay"]["size"]
    width, height = (int(n) for n in size.split("x"))
    return "720x1280" if width < height else "1280x720"


class VideoRoutes:
    """Request handlers; `FakeProvider` supplies the state declared here."""

    dialect: Dialect
    keys: frozenset[str]
    jobs: dict[str, FakeJob]
    isolate_keys: bool
    queue_seconds: float
    run_seconds: float
    expires_seconds: float | None
    id_prefix: str | None
    content_size: int
    video_bytes: bytes | None
    poll_after_ms: int | None
    status_names: dict[str, str]
    task_id_only: bool
    wrap_data: bool
    list_route: bool
    list_status: int
    register_delay: float
    _serial: Iterator[int]
    _default_outcome: tuple[Outcome, str, str]

    def _clock(self) -> float:
        raise NotImplementedError

    def add_routes(self, app: web.Application) -> None:
        router = app.router
        router.add_post("/v1/videos", self._create, name="create")
        router.add_get("/v1/videos", self._list, name="list")
        router.add_get("/v1/videos/{video_id}", self._retrieve, name="retrieve")
        router.add_delete("/v1/videos/{video_id}", self._delete, name="delete")
        router.add_get("/v1/videos/{video_id}/content", self._content, name="content")
        router.add_post("/v1/videos/{video_id}/remix", self._remix, name="remix")

    # -- helpers -----------------------------------------------------------

    def _video_response(self, video: Mapping[str, Any]) -> web.Response:
        headers = {}
        if self.poll_after_ms is not None:
            headers["openai-poll-after-ms"] = str(self.poll_after_ms)
        if self.wrap_data:  # new-api's envelope
            return web.json_response({"code": "success", "data": dict(video)}, headers=headers)
        return web.json_response(dict(video), headers=headers)

    @staticmethod
    def _reject_invalid(request: web.Request) -> None:
        problems = request[PROBLEMS]
        if problems:
            raise ApiError(400, problems[0].message, param=problems[0].param)

    def _job_for(self, request: web.Request) -> FakeJob:
        video_id = request.match_info["video_id"]
        job = self.jobs.get(video_id)
        visible = job is not None and not job.deleted and job.visible
        if job is not None and self.isolate_keys and job.key != request[RECORD].key:
            visible = False  # tasks belong to the account that made them
        if job is None or not visible:
            raise ApiError(404, f"Video with id '{video_id}' not found.", param="video_id")
        return job

    def _new_job(
        self,
        record: RecordedRequest,
        values: Mapping[str, str],
        files: dict[str, RecordedFile],
        remixed_from: str | None = None,
    ) -> FakeJob:
        defaults = DEFAULTS[self.dialect]
        size = values.get("size", "") or defaults["size"]
        outcome, code, message = self._default_outcome
        now = self._clock()
        job = FakeJob(
            id=make_job_id(self.dialect, now, next(self._serial), self.id_prefix),
            dialect=self.dialect,
            model=values.get("model") or defaults["model"],
            prompt=values.get("prompt", ""),
            seconds=values.get("seconds") or defaults["seconds"],
            size=_relay_size(size) if self.dialect == "relay" else size,
            created_at=now,
            queue_seconds=self.queue_seconds,
            run_seconds=self.run_seconds,
            expires_seconds=self.expires_seconds,
            clock=self._clock,
            key=record.key,
            fields=dict(values),
            files=files,
            remixed_from_video_id=remixed_from,
            outcome=outcome,
            error_code=code,
            error_message=message,
            status_names=dict(self.status_names),
            task_id_only=self.task_id_only,
            visible_at=now + self.register_delay if self.register_delay > 0 else None,
        )
        self.jobs[job.id] = job
        record.job_id = job.id
        return job

    # -- handlers ----------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        self._reject_invalid(request)
        record = request[RECORD]
        job = self._new_job(record, record.fields, record.files)
        return self._video_response(job.to_object(as_created=True))

    async def _retrieve(self, request: web.Request) -> web.Response:
        return self._video_response(self._job_for(request).to_object())

    async def _content(self, request: web.Request) -> web.Response:
        job = self._job_for(request)
        variant = request.query.get("variant", "video")
        if variant not in get_args(Variant):
            allowed = ", ".join(get_args(Variant))
            raise ApiError(
                400, f"Invalid value for 'variant': {variant!r} ({allowed}).", param="variant"
            )
        if job.status != "completed":
            message = f"Video '{job.id}' is {job.status}; content is ready once it is completed."
            raise ApiError(409, message, code="video_not_ready")
        if job.expired:
            raise ApiError(404, f"The content of video '{job.id}' has expired.", code="expired")
        body = fake_content(job.id, cast(Variant, variant), self.content_size)
        if variant == "video" and self.video_bytes is not None:
            body = self.video_bytes
        return web.Response(body=body, content_type=VARIANT_CONTENT_TYPES[variant])

    async def _list(self, request: web.Request) -> web.Response:
        if not self.list_route:  # new-api relays: no GET /v1/videos
            raise ApiError(self.list_status, f"Invalid URL ({request.method} {request.path})")
        query = request.query
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, f"Invalid value for 'order': {order!r} (asc, desc).", param="order")
        try:
            limit = int(query.get("limit", LIST_LIMIT_DEFAULT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= LIST_LIMIT_MAX:
            message = f"Invalid value for 'limit': must be 1 to {LIST_LIMIT_MAX}."
            raise ApiError(400, message, param="limit")
        key = request[RECORD].key
        jobs = [
            j
            for j in self.jobs.values()
            if not j.deleted and j.visible and (not self.isolate_keys or j.key == key)
        ]
        if order == "desc":
            jobs.reverse()
        after = query.get("after")
        if after is not None:
            ids = [j.id for j in jobs]
            if after not in ids:
                raise ApiError(
                    400, f"Invalid value for 'after': unknown id {after!r}.", param="after"
                )
            jobs = jobs[ids.index(after) + 1 :]
        page = jobs[:limit]
        return web.json_response(
            {
                "object": "list",
                "data": [j.to_object() for j in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(jobs) > limit,
            }
        )

    async def _delete(self, request: web.Request) -> web.Response:
        job = self._job_for(request)
        if job.status != "queued":
            message = f"Video '{job.id}' is {job.status}; only queued videos can be deleted."
            raise ApiError(409, message, code="invalid_state")
        job.deleted = True
        return web.json_response({"id": job.id, "object": "video.deleted", "deleted": True})

    async def _remix(self, request: web.Request) -> web.Response:
        source = self._job_for(request)
        self._reject_invalid(request)
        if source.status != "completed":
            message = (
                f"Video '{source.id}' is {source.status}; only completed videos can be remixed."
            )
            raise ApiError(400, message, param="video_id")
        if source.private:
            raise ApiError(400, f"Video '{source.id}' is private and cannot be remixed.")
        record = request[RECORD]
        prompt = record.json["prompt"] if isinstance(record.json, dict) else record.fields["prompt"]
        values = {"model": source.model, "seconds": source.seconds, "size": source.size}
        values["prompt"] = prompt
        job = self._new_job(record, values, {}, remixed_from=source.id)
        return self._video_response(job.to_object(as_created=True))
