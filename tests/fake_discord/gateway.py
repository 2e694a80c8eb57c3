"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, RESUME, dispatches."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .models import JSON
from .world import World

HEARTBEAT_INTERVAL_MS = 41250


@dataclass
class GatewayLog:
    """What the gateway saw: opcodes the client sent and how sessions began."""

    identifies: list[JSON] = field(default_factory=list)
    resumes: list[JSON] = field(default_factory=list)
    presence_updates: list[JSON] = field(default_factory=list)
    member_requests: list[JSON] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # "identified" or "resumed", in order


class Gateway:
    def __init__(self, world: World, token: str) -> None:
        self.world = world
        self.token = token
        self.log = GatewayLog()
        self.session_id: str | None = None
        self.seq = 0
        self.resumable = True
        self.events: list[tuple[int, str, JSON]] = []
        self._live: web.WebSocketResponse | None = None
        self._sockets: dict[web.WebSocketResponse, web.Request] = {}
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Condition()

    @property
    def connected(self) -> bool:
        return self._live is not None and not self._live.closed

    # -- server side -------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self._sockets[ws] = request
        self.log.connections.append(request.path_qs)
        await self._send(ws, {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_payload(ws, json.loads(msg.data))
        finally:
            self._sockets.pop(ws, None)
            if self._live is ws:
                self._live = None
        return ws

    async def _send(self, ws: web.WebSocketResponse, payload: JSON) -> None:
        if not ws.closed:
            await ws.send_str(json.dumps(payload))

    async def _on_payload(self, ws: web.WebSocketResponse, payload: JSON) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            await self._send(ws, {"op": 11})
        elif op == 2:
            await self._identify(ws, data or {})
        elif op == 6:
            await self._resume(ws, data or {})
        elif op == 3:
            self.log.presence_updates.append(data or {})
        elif op == 8:
            await self._request_members(data or {})

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> None:
        self.log.identifies.append(data)
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        async with self._send_lock:
            self.session_id = f"fake-session-{len(self.log.identifies)}"
            self.seq, self.events, self.resumable = 0, [], True
            self._live = None
            ready = self._ready_payload()
            if isinstance(data.get("shard"), list):
                ready["shard"] = data["shard"]
            await self._dispatch_to(ws, "READY", ready)
            for guild in self.world.guilds.values():
                await self._dispatch_to(ws, "GUILD_CREATE", guild.gateway_payload())
            self._live = ws
        await self._session_began("identified")

    def _ready_payload(self) -> JSON:
        base = self.world.base_url.replace("http://", "ws://", 1)
        return {
            "v": 10,
            "user": self.world.bot_user.user_payload()
            | {"bot": True, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.world.guilds],
            "session_id": self.session_id,
            "session_type": "normal",
            "resume_gateway_url": f"{base}/resume-gateway",
            "application": {"id": str(self.world.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
        }

    async def _resume(self, ws: web.WebSocketResponse, data: JSON) -> None:
        self.log.resumes.append(data)
        ok = (
            self.resumable
            and data.get("token") == self.token
            and data.get("session_id") == self.session_id
        )
        if not ok:
            await self._send(ws, {"op": 9, "d": False})
            return
        last = int(data.get("seq") or 0)
        async with self._send_lock:
            for seq, event, payload in self.events:
                if seq > last:
                    await self._send(ws, {"op": 0, "t": event, "s": seq, "d": payload})
            await self._dispatch_to(ws, "RESUMED", {})
            self._live = ws
        await self._session_began("resumed")

    async def _request_members(self, data: JSON) -> None:
        self.log.member_requests.append(data)
        guild = self.world.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [m.member_payload() for m in guild.members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _dispatch_to(self, ws: web.WebSocketResponse, event: str, data: JSON) -> None:
        self.seq += 1
        self.events.append((self.seq, event, data))
        await self._send(ws, {"op": 0, "t": event, "s": self.seq, "d": data})

    async def _session_began(self, how: str) -> None:
        async with self._changed:
            self.log.sessions.append(how)
            self._changed.notify_all()

    # -- test side ---------------------------------------------------------------------

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a dispatch now, or keep it for a RESUME when the client is away."""
        async with self._send_lock:
            if self.session_id is None:
                return
            self.seq += 1
            self.events.append((self.seq, event, data))
            live = self._live
            if live is not None and not live.closed:
                await self._send(live, {"op": 0, "t": event, "s": self.seq, "d": data})

    async def wait_sessions(self, count: int, within: float) -> str:
        """Wait until `count` sessions (READY or RESUMED) have begun; return how the last began."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.log.sessions) >= count), within
            )
            return self.log.sessions[count - 1]

    async def disconnect(self, code: int | None, *, resumable: bool) -> None:
        """Close the live socket with `code`, or drop it without a close frame when None."""
        self.resumable = resumable
        live, self._live = self._live, None
        if live is None:
            return
        if code is None:
            request = self._sockets.get(live)
            if request is not None and request.transport is not None:
                request.transport.abort()
            return
        await live.close(code=code, message=b"fake disconnect")

    async def close(self) -> None:
        self._live = None
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fake shutting down")

    def stored_events(self) -> list[tuple[int, str, Any]]:
        return list(self.events)
