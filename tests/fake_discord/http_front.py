"""The HTTP side: parse, record, validate, inject failures, route, answer like Discord."""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from . import rest_app, rest_channels  # noqa: F401  (importing them registers their routes)
from .call_log import CDN_ATTACHMENT, CDN_UPLOAD, CallLog
from .limits import route_problems
from .recording import RecordedCall
from .routing import ROUTES, Route
from .validation import Problem, discord_error_body, validate_body
from .world import ApiError, World

API_PREFIX = "/api/v10"
Answer = tuple[int, Any, dict[str, str]]


class HttpFront:
    def __init__(self, world: World, log: CallLog, bot_token: str, *, validate: bool) -> None:
        self.world = world
        self.log = log
        self.bot_token = bot_token
        self.validate = validate

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path
        if raw.startswith("/cdn/"):
            return await self._cdn(request, raw)
        json_body, files, parse_error = await _read_body(request)
        api = request.path.startswith(API_PREFIX + "/")
        path = request.path.removeprefix(API_PREFIX) if api else request.path
        found = ROUTES.match(request.method, path) if api else None
        call = RecordedCall(
            method=request.method,
            path=path,
            route=found[0].name if found else None,
            params=found[1] if found else {},
            query=dict(request.query),
            headers=dict(request.headers),
            json=json_body,
            files=files,
        )
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if self.log.sender_of is not None and peer:
            call.sender = self.log.sender_of(int(peer[1]))
        if parse_error:
            call.valid, call.errors = False, [parse_error]
        self.log.record(call)
        try:
            status, body, headers = await self._answer(call, found[0] if found else None)
        except Exception:
            call.valid = False
            call.errors.append("fake Discord failed:\n" + traceback.format_exc())
            status, body, headers = 400, {"message": "fake Discord failed", "code": 0}, {}
        await self.log.answered(call, status, body)
        return _response(status, body, headers)

    async def _answer(self, call: RecordedCall, route: Route | None) -> Answer:
        if route is None:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        if route.bot_auth and call.headers.get("Authorization") != f"Bot {self.bot_token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        problems: list[Problem] = []
        if call.json is not None and call.valid:
            if self.validate:
                call.validated, problems = validate_body(call.method, call.path, call.json)
            seen = {p.path for p in problems}
            problems += [p for p in route_problems(route.name, call.json) if p.path not in seen]
            if problems:
                call.valid, call.errors = False, [str(p) for p in problems]
        rule = self.log.take_failure(call)
        if rule is not None:
            return rule.response()
        if not call.valid:
            return 400, discord_error_body(problems), {}
        try:
            reply = await route.handler(self.world, call)
        except ApiError as err:
            return err.status, err.body(), {}
        return reply.status, reply.body, reply.headers

    async def _cdn(self, request: web.Request, raw: str) -> web.StreamResponse:
        key = raw.removeprefix("/cdn/")
        parts = key.split("/")
        known = key in self.world.cdn
        route: str | None = None
        params: dict[str, str] = {}
        if known:
            route = CDN_UPLOAD if parts[0] == "ephemeral-attachments" else CDN_ATTACHMENT
            names = [n.strip("{}") for n in route.split("/")[3:]]
            params = dict(zip(names, parts[1:], strict=True))
        query, headers = dict(request.query), dict(request.headers)
        call = RecordedCall(request.method, raw, route, params, query, headers)
        self.log.record(call)
        if not known:
            await self.log.answered(call, 404, None)
            return web.Response(status=404, text="Not Found")
        if self.world.cdn_delay:
            await asyncio.sleep(self.world.cdn_delay)
        data, content_type = self.world.cdn[key]
        await self.log.answered(call, 200, None)
        return web.Response(body=data, headers={"Content-Type": content_type})


def _response(status: int, body: Any, headers: Mapping[str, str]) -> web.Response:
    all_headers = {"Via": "1.1 google", **headers}
    if body is None or status == 204:
        return web.Response(status=status, headers=all_headers)
    all_headers["Content-Type"] = "application/json"  # exactly: discord.py checks equality
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]], str | None]:
    """(JSON or payload_json, files[N] parts in index order, parse error)."""
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[tuple[int, str, bytes]] = []
        async for part in _parts(await request.multipart()):
            name = part.name or ""
            data = bytes(await part.read())
            if name == "payload_json":
                try:
                    payload = json.loads(data)
                except ValueError:
                    return None, [], f"payload_json is not JSON: {data[:80]!r}"
            elif name.startswith("files[") and name.endswith("]") and name[6:-1].isdigit():
                files.append((int(name[6:-1]), part.filename or name, data))
            else:
                return payload, [], f"unexpected multipart field {name!r}"
        files.sort(key=lambda f: f[0])
        return payload, [(n, d) for _, n, d in files], None
    raw = await request.read()
    if not raw:
        return None, [], None
    try:
        return json.loads(raw), [], None
    except ValueError:
        return None, [], f"body is not JSON: {raw[:80]!r}"


async def _parts(reader: MultipartReader) -> AsyncIterator[BodyPartReader]:
    while True:
        part = await reader.next()
        if part is None:
            return
        if isinstance(part, BodyPartReader):
            yield part
