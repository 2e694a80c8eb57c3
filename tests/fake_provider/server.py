"""The fake video provider: an aiohttp server on 127.0.0.1 with a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import socket
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Self, get_args
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fake_provider.contract import MULTIPART, create_problems, remix_problems
from tests.fake_provider.forms import (
    ApiError,
    FieldError,
    parse_json,
    parse_multipart,
    status_error_body,
)
from tests.fake_provider.jobs import (
    DEFAULT_FAIL_CODE,
    DEFAULT_FAIL_MESSAGE,
    Dialect,
    FakeJob,
    Outcome,
    VideoStatus,
)
from tests.fake_provider.media import Variant, fake_content
from tests.fake_provider.records import Fault, Headers, RecordedFile, RecordedRequest, Route
from tests.fake_provider.routes import PROBLEMS, RECORD, VideoRoutes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_KEY = "sk-test"
_ROUTES: tuple[Route, ...] = get_args(Route)


class FakeProvider(VideoRoutes):
    """An OpenAI-compatible video API on 127.0.0.1 (a random free port), for async tests.

    `keys` are the accepted bearer tokens; with `isolate_keys` a job is only
    visible to the key that created it (404 for others). Jobs are queued for
    `queue_seconds` of the fake clock, then run for `run_seconds`; completed
    content expires after `expires_seconds` (None: never). `poll_after_ms`
    is sent as `openai-poll-after-ms` (None: no header); `content_size` is
    the size of the fake MP4. `start_time` sets the fake clock (Unix seconds).

    Relay dialects: `status_names` maps the canonical statuses to this
    relay's words (`{"completed": "succeeded", "in_progress": "running"}`);
    `task_id_only` answers `task_id` instead of `id`; `wrap_data` wraps video
    answers as new-api sometimes does (`{"code": "success", "data": {...}}`);
    `list_route=False` makes `GET /v1/videos` answer `list_status` (404, or
    405), as on new-api; `register_delay` (fake-clock seconds, also
    `hide_new_jobs`) keeps a new job out of retrieve (404) and list until
    the clock passes its creation plus the delay.
    """

    def __init__(
        self,
        keys: Iterable[str] = (DEFAULT_KEY,),
        *,
        dialect: Dialect = "relay",
        queue_seconds: float = 5.0,
        run_seconds: float = 60.0,
        poll_after_ms: int | None = 2000,
        content_size: int = 64 * 1024,
        expires_seconds: float | None = 3600.0,
        start_time: float = 1_764_744_797.290,
        isolate_keys: bool = True,
        id_prefix: str | None = None,
        max_body_size: int = 32 * 1024 * 1024,
        status_names: dict[str, str] | None = None,
        task_id_only: bool = False,
        wrap_data: bool = False,
        list_route: bool = True,
        list_status: int = 404,
        register_delay: float = 0.0,
    ) -> None:
        if dialect not in ("relay", "openai"):
            raise ValueError(f"unknown dialect {dialect!r}")
        if queue_seconds < 0 or run_seconds < 0:
            raise ValueError("queue_seconds and run_seconds must not be negative")
        self.keys = frozenset(keys)
        self.dialect: Dialect = dialect
        self.queue_seconds = queue_seconds
        self.run_seconds = run_seconds
        self.poll_after_ms = poll_after_ms
        self.content_size = content_size
        self.video_bytes: bytes | None = None
        self.expires_seconds = expires_seconds
        self.isolate_keys = isolate_keys
        self.id_prefix = id_prefix
        self.max_body_size = max_body_size
        self.status_names = dict(status_names or {})
        self.task_id_only = task_id_only
        self.wrap_data = wrap_data
        self.list_route = list_route
        self.list_status = list_status
        self.register_delay = register_delay
        self.requests: list[RecordedRequest] = []
        # Names the client behind a request from its TCP port (`RecordedRequest.sender`);
        # asked while the request is open, when the client's socket still exists.
        self.sender_of: Callable[[int], str | None] | None = None
        self.jobs: dict[str, FakeJob] = {}
        self.faults: list[Fault] = []
        self._now = start_time
        self._serial = itertools.count(1)
        self._default_outcome: tuple[Outcome, str, str] = (
            "complete",
            DEFAULT_FAIL_CODE,
            DEFAULT_FAIL_MESSAGE,
        )
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the fake provider is already running")
        app = web.Application(middlewares=[self._middleware], client_max_size=self.max_body_size)
        self.add_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self._closing.clear()

    async def close(self) -> None:
        self._closing.set()  # wakes `slow` faults still sleeping
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`; the client appends `/videos`, `/videos/{id}`, ..."""
        if self._port is None:
            raise RuntimeError("the fake provider is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    # -- what tests drive --------------------------------------------------

    @property
    def now(self) -> float:
        """The fake clock, in Unix seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the fake clock; jobs progress on it."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._now += seconds

    def inject(self, fault: Fault) -> Fault:
        """Queue a fault; the next matching requests consume it in order."""
        self.faults.append(fault)
        return fault

    def set_outcome(
        self,
        job_id: str | None,
        outcome: Outcome,
        *,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """How a job (or, with None, every job created from now on) ends on the clock."""
        if outcome not in get_args(Outcome):
            raise ValueError(f"outcome is 'complete' or 'fail', not {outcome!r}")
        code = code or DEFAULT_FAIL_CODE
        message = message or DEFAULT_FAIL_MESSAGE
        if job_id is None:
            self._default_outcome = (outcome, code, message)
            return
        job = self.jobs[job_id]
        job.outcome, job.error_code, job.error_message = outcome, code, message

    def set_status(
        self, job_id: str, status: VideoStatus | str | None, *, progress: int | None = None
    ) -> FakeJob:
        """Pin a job's status (and progress); None returns it to the clock.

        Any word is accepted and served as it is (`succeeded`, `expired`, ...).
        """
        job = self.jobs[job_id]
        job.status = status
        job.progress = progress
        return job

    def add_job(self, key: str = DEFAULT_KEY, **fields: str) -> FakeJob:
        """A job made without a request (no contract check, nothing recorded):
        for simulations that need many open jobs fast."""
        record = RecordedRequest(
            method="POST",
            path="/v1/videos",
            route="create",
            query={},
            headers=Headers(),
            key=key,
            content_type=MULTIPART,
            body=b"",
        )
        values = {"model": "sora-2", "prompt": "A seeded job.", **fields}
        return self._new_job(record, values, {})

    def hide_new_jobs(self, seconds: float) -> None:
        """Jobs created from now on stay invisible to retrieve and list for `seconds`
        of the fake clock (0 ends it): a relay that registers tasks late."""
        if seconds < 0:
            raise ValueError("the delay must not be negative")
        self.register_delay = seconds

    def expire_content(self, job_id: str) -> FakeJob:
        """The content route answers 404 for this job from now on (retention ran out)."""
        job = self.jobs[job_id]
        job.content_expired = True
        return job

    def serve_video(self, data: bytes | None) -> None:
        """The content route serves `data` as every job's video from now on (a real MP4 a
        test made; None: the noise-filled fake MP4 of `content_size` again)."""
        self.video_bytes = data

    def content_of(self, job_id: str, variant: Variant = "video") -> bytes:
        """The bytes the content route serves for a job."""
        if variant == "video" and self.video_bytes is not None:
            return self.video_bytes
        return fake_content(job_id, variant, self.content_size)

    def requests_to(self, route: Route) -> list[RecordedRequest]:
        """The recorded requests for one route, in order."""
        return [r for r in self.requests if r.route == route]

    # -- plumbing ----------------------------------------------------------

    def _clock(self) -> float:
        return self._now

    def _take_fault(self, route: Route, variant: str | None = None) -> Fault | None:
        for fault in list(self.faults):
            if fault.over(self._now):
                self.faults.remove(fault)
                continue
            if fault.window is not None and fault.applies_to(route, variant):
                if fault.started_at is None:
                    fault.started_at = self._now
                return fault
            if fault.matches(route, variant):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _record(self, request: web.Request) -> tuple[RecordedRequest, ApiError | None]:
        route_name = request.match_info.route.name
        route: Route = route_name if route_name in _ROUTES else "unknown"
        headers = Headers({k: v for k, v in request.headers.items()})
        auth = headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        has_type = "Content-Type" in headers
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            route=route,
            query=dict(request.query),
            headers=headers,
            key=token.strip() if scheme.lower() == "bearer" and token.strip() else None,
            content_type=request.content_type.lower() if has_type else None,
            body=b"",
        )
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if self.sender_of is not None and peer:
            record.sender = self.sender_of(int(peer[1]))
        try:
            record.body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return record, ApiError(413, f"Request body over {self.max_body_size} bytes.")
        return record, self._read_body(record)

    def _read_body(self, record: RecordedRequest) -> ApiError | None:
        if not record.body:
            return None
        try:
            if record.content_type == MULTIPART:
                for name, value in parse_multipart(record.headers["Content-Type"], record.body):
                    if isinstance(value, RecordedFile):
                        record.files.setdefault(name, value)
                    else:
                        record.fields.setdefault(name, value)
            elif record.content_type == "application/x-www-form-urlencoded":
                pairs = parse_qsl(record.body.decode(), keep_blank_values=True)
                record.fields = dict(reversed(pairs))  # the first value wins, as in multipart
            elif record.content_type == "application/json":
                record.json = parse_json(record.body)
        except ValueError as exc:
            return ApiError(400, f"Could not parse the {record.content_type} body ({exc}).")
        return None

    def _check(self, record: RecordedRequest, unreadable: ApiError | None) -> list[FieldError]:
        if record.route not in ("create", "remix"):
            return []
        if unreadable is not None:
            problems = [FieldError(unreadable.message)]
        elif record.route == "create":
            problems = create_problems(self.dialect, record)
        else:
            problems = remix_problems(self.dialect, record)
        record.valid = not problems
        record.errors = [p.message for p in problems]
        return problems

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record, unreadable = await self._record(request)
        self.requests.append(record)
        request[RECORD] = record
        request[PROBLEMS] = self._check(record, unreadable)
        fault = self._take_fault(record.route, record.query.get("variant", "video"))
        kind = fault.kind if fault else None
        record.fault = kind
        if fault is not None and kind == "drop":
            return self._drop(request)
        if fault is not None and kind == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=fault.delay)
        if fault is not None and kind == "hold":
            await _first_of(fault.released.wait(), self._closing.wait())
        if fault is not None and kind == "status":
            response = self._fault_response(fault)
        elif fault is not None and kind == "hold" and fault.answer is not None:
            response = self._fault_response(dataclasses.replace(fault, status=fault.answer))
        else:
            response = await self._answer(request, handler, record, unreadable)
        if fault is not None and kind == "accept_then_status":
            response = self._fault_response(fault)
        if kind == "drop_after_read":
            return self._drop(request)
        if kind == "bad_json":
            response = self._bad_json(response)
        record.status = response.status
        if kind == "truncate":
            return await self._truncate(request, response)
        return response

    async def _answer(
        self,
        request: web.Request,
        handler: Handler,
        record: RecordedRequest,
        unreadable: ApiError | None,
    ) -> web.Response:
        try:
            if record.route == "unknown":
                error = request.match_info.http_exception
                status = error.status if error is not None else 404
                raise ApiError(status, f"Unknown request URL: {record.method} {record.path}.")
            if record.key is None or record.key not in self.keys:
                raise ApiError(401, "Incorrect API key provided", code="invalid_api_key")
            if unreadable is not None:
                raise unreadable
            response = await handler(request)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        assert isinstance(response, web.Response)
        return response

    def _fault_response(self, fault: Fault) -> web.Response:
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.body is None or isinstance(fault.body, dict):
            body = fault.body if fault.body is not None else status_error_body(fault.status)
            return web.json_response(
                body,
                status=fault.status,
                headers=headers,
                content_type=fault.content_type or "application/json",
            )
        raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
        headers["Content-Type"] = fault.content_type or "text/plain; charset=utf-8"
        return web.Response(body=raw, status=fault.status, headers=headers)

    @staticmethod
    def _bad_json(response: web.Response) -> web.Response:
        body = response.body if isinstance(response.body, bytes) else b""
        if response.content_type != "application/json":
            body = json.dumps({"id": "video", "object": "video", "status": "completed"}).encode()
        return web.Response(body=body[: len(body) // 2], content_type="application/json")

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        """Close the connection: the client sees a disconnect, not a status."""
        if request.transport is not None:
            request.transport.close()
        return web.Response()

    @staticmethod
    async def _truncate(request: web.Request, response: web.Response) -> web.StreamResponse:
        body = response.body if isinstance(response.body, bytes) else b""
        partial = web.StreamResponse(status=response.status, headers=response.headers)
        partial.content_length = len(body)
        await partial.prepare(request)
        await partial.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        return partial


async def _first_of(*waits: Awaitable[object]) -> None:
    """Return when the first of `waits` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
