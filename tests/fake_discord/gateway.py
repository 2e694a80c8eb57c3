"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, RESUME, dispatches.

Sharding as on Discord: an IDENTIFY with `shard: [shard_id, shard_count]` starts a session
of that shard, whose READY and GUILD_CREATEs hold only its guilds (`(guild_id >> 22) %
shard_count`), and every later dispatch of a guild, interactions included, goes only to
the session of its shard (a DM's to shard 0). A client without `shard` gets everything.
A second IDENTIFY for a shard whose session is still connected starts a second session
beside it, as Discord allows during a rolling deploy: each gets the shard's events.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from .models import JSON
from .world import World

HEARTBEAT_INTERVAL_MS = 41250


# Discord's close code for an IDENTIFY naming a shard that can't be.
INVALID_SHARD = 4010


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard Discord sends a guild's events on; without a guild (a DM), shard 0."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


def guild_of(event: str, data: JSON) -> int | None:
    """The guild a dispatch is about, which decides its shard; None for a DM's."""
    if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        return int(data["id"])
    guild_id = data.get("guild_id")
    return int(guild_id) if guild_id else None


@dataclass(frozen=True)
class IdentifyRecord:
    """One IDENTIFY as the gateway took it: when (the world's clock) and for which shard
    (`(shard_id, shard_count)`; None for a client that does not shard)."""

    at: float
    shard: tuple[int, int] | None


@dataclass
class GatewayLog:
    """What the gateway saw: opcodes the client sent and how sessions began."""

    identifies: list[JSON] = field(default_factory=list)
    identified: list[IdentifyRecord] = field(default_factory=list)
    resumes: list[JSON] = field(default_factory=list)
    presence_updates: list[JSON] = field(default_factory=list)
    member_requests: list[JSON] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)  # "identified" or "resumed", in order
    began: list[tuple[int, int] | None] = field(default_factory=list)  # each one's shard


@dataclass
class Session:
    """One gateway session: a client's, or one shard's of a sharded client. Each has its
    own sequence and its own events (what a RESUME replays), as on Discord."""

    id: str
    shard: tuple[int, int] | None
    seq: int = 0
    events: list[tuple[int, str, JSON]] = field(default_factory=list)
    resumable: bool = True
    ws: web.WebSocketResponse | None = None  # the live socket; None while the client is away

    def holds(self, guild_id: int | None) -> bool:
        """This session gets the events of `guild_id` (a DM's, for None)."""
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return shard_of(guild_id, count) == shard_id

    @property
    def live(self) -> bool:
        return self.ws is not None and not self.ws.closed


class Gateway:
    def __init__(self, world: World, token: str) -> None:
        self.world = world
        self.token = token
        self.log = GatewayLog()
        # By session id; an IDENTIFY for a shard replaces that shard's earlier sessions
        # whose client is gone (a live one stays: a rolling deploy's old process).
        self.sessions: dict[str, Session] = {}
        self._sockets: dict[web.WebSocketResponse, web.Request] = {}
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Condition()

    @property
    def session_id(self) -> str | None:
        """The latest session's id; None until a client IDENTIFYed."""
        return next(reversed(self.sessions), None)

    @property
    def connected(self) -> bool:
        return any(s.live for s in self.sessions.values())

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
            for session in self.sessions.values():
                if session.ws is ws:
                    session.ws = None
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
        shard = _shard(data.get("shard"))
        self.log.identified.append(IdentifyRecord(at=self.world.now(), shard=shard))
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        if shard is not None and not 0 <= shard[0] < shard[1]:
            await ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return
        async with self._send_lock:
            gone = [s for s in self.sessions.values() if not s.live or s.ws is ws]
            for old in [s for s in gone if s.shard == shard]:
                del self.sessions[old.id]
            session = Session(id=f"fake-session-{len(self.log.identifies)}", shard=shard)
            self.sessions[session.id] = session
            ready = self._ready_payload(session)
            if shard is not None:
                ready["shard"] = list(shard)
            await self._dispatch_to(session, ws, "READY", ready)
            for guild in self.world.guilds.values():
                if session.holds(guild.id):
                    await self._dispatch_to(session, ws, "GUILD_CREATE", guild.gateway_payload())
            session.ws = ws
        await self._session_began("identified", shard)

    def _ready_payload(self, session: Session) -> JSON:
        base = self.world.base_url.replace("http://", "ws://", 1)
        guilds = [g for g in self.world.guilds if session.holds(g)]
        return {
            "v": 10,
            "user": self.world.bot_user.user_payload()
            | {"bot": True, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
            "session_id": session.id,
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
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.resumable or data.get("token") != self.token:
            await self._send(ws, {"op": 9, "d": False})
            return
        last = int(data.get("seq") or 0)
        async with self._send_lock:
            for seq, event, payload in session.events:
                if seq > last:
                    await self._send(ws, {"op": 0, "t": event, "s": seq, "d": payload})
            await self._dispatch_to(session, ws, "RESUMED", {})
            session.ws = ws
        await self._session_began("resumed", session.shard)

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

    async def _dispatch_to(
        self, session: Session, ws: web.WebSocketResponse, event: str, data: JSON
    ) -> None:
        session.seq += 1
        session.events.append((session.seq, event, data))
        await self._send(ws, {"op": 0, "t": event, "s": session.seq, "d": data})

    async def _session_began(self, how: str, shard: tuple[int, int] | None) -> None:
        async with self._changed:
            self.log.sessions.append(how)
            self.log.began.append(shard)
            self._changed.notify_all()

    # -- test side ---------------------------------------------------------------------

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a dispatch to the session holding its guild's shard (a DM's: shard 0), or
        keep it there for a RESUME when its client is away."""
        guild_id = guild_of(event, data)
        async with self._send_lock:
            for session in self.sessions.values():
                if not session.holds(guild_id):
                    continue
                session.seq += 1
                session.events.append((session.seq, event, data))
                if session.ws is not None and not session.ws.closed:
                    await self._send(session.ws, {"op": 0, "t": event, "s": session.seq, "d": data})

    async def wait_sessions(self, count: int, within: float) -> str:
        """Wait until `count` sessions (READY or RESUMED) have begun; return how the last began."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.log.sessions) >= count), within
            )
            return self.log.sessions[count - 1]

    async def wait_began(self, shard: tuple[int, int] | None, count: int, within: float) -> None:
        """Wait until `count` sessions (READY or RESUMED) of `shard` have begun."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: self.log.began.count(shard) >= count), within
            )

    async def wait_shard(self, shard: tuple[int, int], within: float) -> None:
        """Wait until shard `(shard_id, shard_count)` has a live session (READY and its
        GUILD_CREATEs sent, or RESUMED)."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(
                    lambda: any(s.shard == shard and s.live for s in self.sessions.values())
                ),
                within,
            )

    async def disconnect(
        self, code: int | None, *, resumable: bool, shard: tuple[int, int] | None = None
    ) -> None:
        """Close the live socket of every session (with `shard`, of that shard's) with
        `code`, or drop it without a close frame when None."""
        for session in list(self.sessions.values()):
            if shard is not None and session.shard != shard:
                continue
            session.resumable = resumable
            live, session.ws = session.ws, None
            if live is None:
                continue
            if code is None:
                request = self._sockets.get(live)
                if request is not None and request.transport is not None:
                    request.transport.abort()
                continue
            await live.close(code=code, message=b"fake disconnect")

    async def close(self) -> None:
        for session in self.sessions.values():
            session.ws = None
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fake shutting down")


def _shard(value: object) -> tuple[int, int] | None:
    """IDENTIFY's `shard: [shard_id, shard_count]`; None when the client does not shard."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    return None
