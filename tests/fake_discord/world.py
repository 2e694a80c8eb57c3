"""The fake's state: guilds, messages, commands, interactions, CDN files; message building."""

from __future__ import annotations

import asyncio
import io
import mimetypes
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from .models import (
    DISCORD_EPOCH_MS,
    JSON,
    Channel,
    Guild,
    Member,
    Perm,
    Snowflakes,
    snowflake_iso,
)
from .recording import KNOWN_ERRORS

EPHEMERAL = 1 << 6
LOADING = 1 << 7
HAS_THREAD = 1 << 5
TOKEN_LIFETIME = 15 * 60
KEPT_MESSAGE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 15)  # suppress embeds/notifs, CV2


class ApiError(Exception):
    """Raised by a handler: answered with Discord's error body."""

    def __init__(
        self, status: int, code: int, message: str | None = None, errors: JSON | None = None
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status, self.code = status, code
        self.message = message or KNOWN_ERRORS.get(code, "Error")
        self.errors = errors

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


@dataclass
class InteractionState:
    """What the fake knows of one interaction it dispatched."""

    id: int
    token: str
    type: int
    guild_id: int
    channel_id: int
    user: Member
    created_at: float
    payload: JSON
    source_message_id: int | None = None
    callback_type: int | None = None
    callback: JSON | None = None
    original_message_id: int | None = None
    loading: bool = False
    followup_ids: list[int] = field(default_factory=list)
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    # perf_counter() when the dispatch left and when the first callback arrived (benchmarks).
    sent_at: float = 0.0
    acked_at: float | None = None


class World:
    def __init__(
        self,
        *,
        app_id: int,
        bot_user: Member,
        clock: Callable[[], float],
        ack_deadline: float | None,
    ) -> None:
        self.app_id = app_id
        self.bot_user = bot_user
        self.clock = clock
        self.clock_offset = 0.0
        self.ack_deadline = ack_deadline
        # Dated by the wall clock (as Discord's), moved on by `advance_clock` like `now`.
        self.ids = Snowflakes(clock=self.wall_now)
        self.guilds: dict[int, Guild] = {}
        self.messages: dict[int, JSON] = {}
        self.commands: dict[int | None, list[JSON]] = {}
        self.interactions: dict[int, InteractionState] = {}
        self.cdn: dict[str, tuple[bytes, str]] = {}
        # Seconds every CDN download waits before answering (a slow CDN).
        self.cdn_delay = 0.0
        # Message nonces: nonce -> (message id, when), for `enforce_nonce` (rest_channels).
        self.nonces: dict[str, tuple[int, float]] = {}
        # Accepted edits of messages older than an hour, by message id: when each was made
        # (`wall_now`), for Discord's separate budget of such edits (rest_channels, 30046).
        self.old_message_edits: dict[int, list[float]] = {}
        self.base_url = ""
        # What GET /gateway/bot answers: the shard count Discord recommends, and how many
        # sessions may start (IDENTIFY) per 5 s, one per bucket `shard_id % max_concurrency`.
        self.recommended_shards = 1
        self.max_concurrency = 1
        self.emit: Callable[[str, JSON], Awaitable[None]] = _no_emit

    def now(self) -> float:
        return self.clock() + self.clock_offset

    def wall_now(self) -> float:
        """Unix time as Discord dates messages (their ids), moved on by `advance_clock`."""
        return time.time() + self.clock_offset

    def message_age(self, message_id: int) -> float:
        """Seconds since the message's id was made."""
        return self.wall_now() - ((message_id >> 22) + DISCORD_EPOCH_MS) / 1000

    # -- lookups ---------------------------------------------------------------------

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel]:
        for guild in self.guilds.values():
            channel = guild.channel(channel_id)
            if channel is not None:
                return guild, channel
        raise ApiError(404, 10003)

    def bot_permissions(self, guild: Guild, channel: Channel) -> int:
        return guild.permissions_in(guild.bot_member, channel)

    def require(self, guild: Guild, channel: Channel, needed: int) -> None:
        perms = self.bot_permissions(guild, channel)
        if perms & needed != needed:
            view = Perm.VIEW_CHANNEL
            raise ApiError(403, 50001 if not perms & view else 50013)

    def channel_message(self, channel_id: int, message_id: int) -> JSON:
        msg = self.messages.get(message_id)
        if msg is None or msg["channel_id"] != str(channel_id) or msg["flags"] & EPHEMERAL:
            raise ApiError(404, 10008)
        return msg

    def interaction_by_token(self, app_id: str, token: str) -> InteractionState:
        ix = next((i for i in self.interactions.values() if i.token == token), None)
        if ix is None or app_id != str(self.app_id) or ix.callback_type is None:
            raise ApiError(404, 10015)
        if self.now() - ix.created_at > TOKEN_LIFETIME:
            raise ApiError(401, 50027)
        return ix

    # -- CDN -------------------------------------------------------------------------

    def add_cdn_file(
        self, folder: str, owner_id: int, filename: str, data: bytes, content_type: str | None
    ) -> JSON:
        """Store bytes under /cdn/{folder}/{owner}/{id}/{filename}; return the attachment object."""
        att_id = self.ids.next()
        filename = filename.replace(" ", "_")
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        key = f"{folder}/{owner_id}/{att_id}/{quote(filename, safe='')}"
        self.cdn[key] = (data, ctype)
        url = f"{self.base_url}/cdn/{key}?ex=68000000&is=67f00000&hm=fake"
        att: JSON = {
            "id": str(att_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": ctype,
        }
        size = _image_size(data) if ctype.startswith("image/") else None
        if size is not None:
            att["width"], att["height"] = size
        return att

    # -- messages --------------------------------------------------------------------

    def new_message(
        self,
        *,
        channel_id: int,
        guild_id: int | None,
        body: JSON,
        files: list[tuple[str, bytes]],
        message_id: int | None = None,
        message_type: int = 0,
        flags: int | None = None,
        interaction: InteractionState | None = None,
    ) -> JSON:
        msg_id = message_id if message_id is not None else self.ids.next()
        msg: JSON = {
            "id": str(msg_id),
            "channel_id": str(channel_id),
            "author": self.bot_user.user_payload() | {"bot": True},
            "content": "",
            "timestamp": snowflake_iso(msg_id),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": message_type,
            "flags": (body.get("flags") or 0) & KEPT_MESSAGE_FLAGS if flags is None else flags,
        }
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if interaction is not None:
            msg["webhook_id"] = str(self.app_id)
            msg["application_id"] = str(self.app_id)
            msg["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.user_payload(),
                "authorizing_integration_owners": {"0": str(interaction.guild_id)},
            }
        ref = body.get("message_reference")
        if isinstance(ref, dict) and ref.get("message_id") is not None:
            msg["type"] = 19
            msg["message_reference"] = {"type": 0, "channel_id": str(channel_id)} | {
                k: str(v) for k, v in ref.items() if k in ("message_id", "guild_id")
            }
            referenced = self.messages.get(int(ref["message_id"]))
            if referenced is not None:
                msg["referenced_message"] = referenced
        self.apply_edit(msg, body, files, edited=False)
        self.messages[msg_id] = msg
        return msg

    def apply_edit(
        self, msg: JSON, body: JSON, files: list[tuple[str, bytes]], *, edited: bool = True
    ) -> JSON:
        """Apply a create/edit body to `msg`: content, embeds, components, attachments, flags."""
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "components" in body:
            msg["components"] = body["components"] or []
        if "poll" in body and body["poll"] is not None:
            msg["poll"] = body["poll"]
        if "flags" in body and edited and body["flags"] is not None:
            keep = msg["flags"] & ~(1 << 2)
            msg["flags"] = keep | (body["flags"] & (1 << 2))
        if "attachments" in body or files:
            msg["attachments"] = self._attachments(msg, body.get("attachments"), files)
        if "embeds" in body:
            msg["embeds"] = [_embed(e, msg["attachments"]) for e in body["embeds"] or []]
        if edited:
            msg["edited_timestamp"] = snowflake_iso(self.ids.next())
        return msg

    def _attachments(
        self, msg: JSON, wanted: list[JSON] | None, files: list[tuple[str, bytes]]
    ) -> list[JSON]:
        current = {a["id"]: a for a in msg["attachments"]}
        uploads = dict(enumerate(files))
        result: list[JSON] = []
        used: set[int] = set()
        for entry in wanted if wanted is not None else list(current.values()):
            att_id = str(entry.get("id"))
            if att_id in current:
                result.append(current[att_id])
                continue
            index = int(att_id) if att_id.isdigit() and int(att_id) in uploads else None
            if index is None:
                raise ApiError(
                    400,
                    50035,
                    errors={
                        "attachments": {
                            "_errors": [
                                {
                                    "code": "ATTACHMENT_NOT_FOUND",
                                    "message": f"Unknown attachment {att_id}",
                                }
                            ]
                        }
                    },
                )
            used.add(index)
            result.append(self._upload(msg, uploads[index], entry))
        for index, upload in uploads.items():
            if index not in used:
                result.append(self._upload(msg, upload, {}))
        return result

    def _upload(self, msg: JSON, upload: tuple[str, bytes], entry: JSON) -> JSON:
        filename, data = upload
        att = self.add_cdn_file(
            "attachments", int(msg["channel_id"]), entry.get("filename") or filename, data, None
        )
        if entry.get("description"):
            att["description"] = entry["description"]
        if msg["flags"] & EPHEMERAL:
            att["ephemeral"] = True
        return att


async def _no_emit(event: str, data: JSON) -> None:
    return None


def _embed(embed: JSON, attachments: list[JSON]) -> JSON:
    out = dict(embed)
    out.setdefault("type", "rich")
    for key in ("image", "thumbnail"):
        media = out.get(key)
        if not isinstance(media, dict):
            continue
        url = media.get("url")
        if isinstance(url, str) and url.startswith("attachment://"):
            name = url.removeprefix("attachment://")
            att = next((a for a in attachments if a["filename"] == name), None)
            if att is not None:
                out[key] = {**media, "url": att["url"], "proxy_url": att["proxy_url"]}
    return out


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return int(img.width), int(img.height)
    except Exception:
        return None
