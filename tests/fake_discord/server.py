"""FakeDiscord: the HTTP + gateway server, its state, and what a test drives it with."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, TypeVar

import discord
from aiohttp import web

from .call_log import CallLog
from .discordpy import DiscordPyPatch, running_client
from .gateway import Gateway
from .http_front import API_PREFIX, HttpFront
from .interactions import (
    DEFAULT_SIZE_LIMIT,
    InteractionHandle,
    base_payload,
    command_data,
    find_command,
    find_component,
    modal_submit_data,
    select_resolved,
)
from .models import JSON, Channel, Guild, Member, Perm, Role
from .validation import load_discord_spec
from .world import InteractionState, World

DEFAULT_APP_ID = 1_300_000_000_000_000_001
DEFAULT_BOT_TOKEN = "fake-bot-token.storyboard"
GUILD_OWNER_ID = 1_000_000_000_000_000_001
ClientT = TypeVar("ClientT", bound=discord.Client)


class FakeDiscord(CallLog):
    """A fake Discord (REST + gateway + CDN) on 127.0.0.1 for the real discord.py client.

    Every request is recorded in `calls` and its body checked against Discord's OpenAPI
    description plus limits the spec misses; a refused body gets Discord's 400 and the
    call is marked invalid (`assert_all_valid()`). The call queries (`calls_to`,
    `wait_for_call`, `fail_next`, ...) come from `CallLog`.
    """

    def __init__(
        self,
        *,
        app_id: int = DEFAULT_APP_ID,
        bot_token: str = DEFAULT_BOT_TOKEN,
        bot_name: str = "Storyboard",
        clock: Callable[[], float] = time.monotonic,
        ack_deadline: float | None = 3.0,
        validate: bool = True,
    ) -> None:
        super().__init__()
        self.app_id = app_id
        self.bot_token = bot_token
        bot_user = Member(id=app_id, username=bot_name, bot=True)
        self.world = World(app_id=app_id, bot_user=bot_user, clock=clock, ack_deadline=ack_deadline)
        self.gateway = Gateway(self.world, bot_token)
        self.world.emit = self.gateway.dispatch
        self.http = HttpFront(self.world, self, bot_token, validate=validate)
        self._patches: list[DiscordPyPatch] = []
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
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
        if self.http.validate:
            await asyncio.to_thread(load_discord_spec)  # ~3 s once per process
        app = web.Application(client_max_size=1024**3)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self.http.handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        self.world.base_url = self.base_url

    async def close(self) -> None:
        for patch in reversed(self._patches):
            patch.restore()
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def point_discord_py_here(self) -> DiscordPyPatch:
        """Set discord.py's Route.BASE, DEFAULT_GATEWAY and Asset.BASE to this fake.

        Restored on exit of the fake, or earlier by `with fd.point_discord_py_here(): ...`.
        """
        patch = DiscordPyPatch(self.api_base, self.gateway_url, self.base_url + "/cdn").apply()
        self._patches.append(patch)
        return patch

    def run_client(
        self, client: ClientT, *, timeout: float = 10.0, skip_reidentify_delay: bool = False
    ) -> AbstractAsyncContextManager[ClientT]:
        """`async with fd.run_client(bot):` start the client, wait for READY, close it after.

        `skip_reidentify_delay`: drop discord.py's 5 s sleep before a second IDENTIFY.
        """
        if self.api_base != discord.http.Route.BASE:
            self.point_discord_py_here()
        return running_client(
            client,
            self.bot_token,
            self.wait_ready,
            ready_within=timeout,
            skip_reidentify_delay=skip_reidentify_delay,
        )

    async def wait_ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until a client IDENTIFYed and got READY and its GUILD_CREATEs."""
        try:
            await self.gateway.wait_sessions(1, timeout)
        except TimeoutError:
            raise TimeoutError(f"no IDENTIFY within {timeout}s\n{self.describe_calls()}") from None

    async def disconnect_gateway(
        self,
        code: int | None = 4000,
        *,
        resumable: bool = True,
        wait: bool = True,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> str | None:
        """Close the gateway socket (`code` None: drop it without a close frame).

        With `wait`, return "resumed" or "identified" once the client is back. Not
        resumable: the client's RESUME gets op 9 and it must IDENTIFY again.
        """
        count = len(self.gateway.log.sessions)
        await self.gateway.disconnect(code, resumable=resumable)
        if not wait:
            return None
        return await self.gateway.wait_sessions(count + 1, timeout)

    async def dispatch(self, event: str, data: JSON) -> None:
        await self.gateway.dispatch(event, data)

    # -- state -------------------------------------------------------------------------

    @property
    def guilds(self) -> dict[int, Guild]:
        return self.world.guilds

    @property
    def messages(self) -> dict[int, JSON]:
        return self.world.messages

    @property
    def channels(self) -> dict[int, Channel]:
        return {c.id: c for g in self.world.guilds.values() for c in g.channels}

    @property
    def commands(self) -> dict[int | None, list[JSON]]:
        """Synced commands by guild id (None: global), as the fake returned them."""
        return self.world.commands

    def messages_in(self, channel: Channel | int) -> list[JSON]:
        cid = str(channel.id if isinstance(channel, Channel) else channel)
        return [m for m in self.world.messages.values() if m["channel_id"] == cid]

    def add_guild(
        self,
        guild_id: int,
        *,
        name: str = "Test Guild",
        channels: Iterable[Channel] = (),
        roles: Iterable[Role] = (),
        members: Iterable[Member] = (),
        owner_id: int = GUILD_OWNER_ID,
        everyone_permissions: int = Perm.EVERYONE_DEFAULT,
        bot_permissions: int = Perm.BOT_DEFAULT,
        preferred_locale: str = "en-US",
        premium_tier: int = 0,
    ) -> Guild:
        """Add a guild with @everyone (id = guild id) and the bot's member and managed role."""
        bot = self.world.bot_user
        roles = list(roles)
        if not any(r.id == guild_id for r in roles):
            roles.insert(0, Role(guild_id, "@everyone", everyone_permissions, position=0))
        bot_role = Role(
            self.world.ids.next(), bot.username, bot_permissions, managed=True, bot_id=bot.id
        )
        bot_member = Member(id=bot.id, username=bot.username, bot=True, roles=[bot_role.id])
        guild = Guild(
            id=guild_id,
            name=name,
            channels=list(channels),
            roles=[*roles, bot_role],
            members=[*members, bot_member],
            owner_id=owner_id,
            preferred_locale=preferred_locale,
            premium_tier=premium_tier,
            bot_member_id=bot.id,
        )
        for channel in guild.channels:
            channel.guild_id = guild_id
        self.world.guilds[guild_id] = guild
        if self.gateway.session_id is not None:
            self._spawn(self.gateway.dispatch("GUILD_CREATE", guild.gateway_payload()))
        return guild

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def attachment(
        self, filename: str = "image.png", data: bytes = b"", content_type: str | None = None
    ) -> JSON:
        """A user's upload: bytes served at the fake CDN; the attachment object Discord sends."""
        if not self.port:
            raise RuntimeError("start the fake (async with FakeDiscord(...)) before attachment()")
        att = self.world.add_cdn_file(
            "ephemeral-attachments", self.app_id, filename, data, content_type
        )
        return att | {"ephemeral": True}

    def cdn_file(self, url: str) -> bytes:
        """The bytes behind a fake CDN URL (e.g. of an attachment the bot posted)."""
        key = url.split("/cdn/", 1)[-1].split("?", 1)[0]
        return self.world.cdn[key][0]

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock (the 3 s ack deadline, the 15 min token lifetime)."""
        self.world.clock_offset += seconds

    # -- interactions ------------------------------------------------------------------

    async def _interaction(
        self,
        *,
        kind: int,
        guild: Guild,
        channel: Channel,
        user: Member,
        data: JSON,
        locale: str | None,
        attachment_size_limit: int,
        message: JSON | None = None,
    ) -> InteractionHandle:
        if self.gateway.session_id is None:
            raise RuntimeError("no client has connected to the fake gateway yet")
        if guild.member(user.id) is None:
            raise ValueError(f"user {user.id} is not a member of guild {guild.id}")
        if guild.channel(channel.id) is None:
            raise ValueError(f"channel {channel.id} is not in guild {guild.id}")
        iid = self.world.ids.next()
        token = f"fake-interaction-token-{iid}-aW50ZXJhY3Rpb24"
        payload = base_payload(
            self.world,
            kind=kind,
            interaction_id=iid,
            token=token,
            guild=guild,
            channel=channel,
            user=user,
            data=data,
            locale=locale or user.locale,
            attachment_size_limit=attachment_size_limit,
            message=json.loads(json.dumps(message)) if message is not None else None,
        )
        state = InteractionState(
            id=iid,
            token=token,
            type=kind,
            guild_id=guild.id,
            channel_id=channel.id,
            user=user,
            created_at=self.world.now(),
            payload=payload,
            source_message_id=int(message["id"]) if message is not None else None,
        )
        self.world.interactions[iid] = state
        state.sent_at = time.perf_counter()
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return InteractionHandle(self, state)

    async def run_slash_command(
        self,
        *,
        guild: Guild,
        channel: Channel,
        user: Member,
        name: str,
        options: Mapping[str, Any] | None = None,
        locale: str | None = None,
        attachment_size_limit: int = DEFAULT_SIZE_LIMIT,
    ) -> InteractionHandle:
        """Dispatch a chat input command the bot synced (`name` may be "group sub").

        Option values: plain values, `fd.attachment(...)` for attachments, Member, Role or
        Channel objects for those types. Refuses what the Discord client would refuse.
        `locale` defaults to the member's (`Member.locale`).
        """
        data, _ = command_data(self.world, guild, name, options or {})
        return await self._interaction(
            kind=2,
            guild=guild,
            channel=channel,
            user=user,
            data=data,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
        )

    async def run_autocomplete(
        self,
        *,
        guild: Guild,
        channel: Channel,
        user: Member,
        name: str,
        focused: str,
        options: Mapping[str, Any],
        locale: str | None = None,
    ) -> InteractionHandle:
        """The member typing into option `focused` of command `name` (an autocomplete
        interaction, type 4): `options[focused]` is the text so far. The bot answers with
        callback type 8; `InteractionHandle.choices` reads what it offered."""
        data, _ = command_data(self.world, guild, name, options, focused=focused)
        return await self._interaction(
            kind=4,
            guild=guild,
            channel=channel,
            user=user,
            data=data,
            locale=locale,
            attachment_size_limit=DEFAULT_SIZE_LIMIT,
        )

    async def submit_modal(
        self,
        ix: InteractionHandle,
        values: Mapping[str, Any] | None = None,
        files: Mapping[str, Sequence[JSON]] | None = None,
        *,
        user: Member | None = None,
        locale: str | None = None,
        attachment_size_limit: int | None = None,
    ) -> InteractionHandle:
        """Submit the modal the bot answered `ix` with; keys are custom_ids or Label texts."""
        modal = ix.modal
        if modal is None:
            raise ValueError(f"{ix!r} was not answered with a modal (callback {ix.callback!r})")
        prev = ix.state
        limit = attachment_size_limit or prev.payload["attachment_size_limit"]
        data = modal_submit_data(modal, values or {}, files or {}, limit)
        guild = self.world.guilds[prev.guild_id]
        message = self.world.messages.get(prev.source_message_id or 0)
        return await self._interaction(
            kind=5,
            guild=guild,
            channel=self._channel(guild, prev.channel_id),
            user=user or prev.user,
            data=data,
            locale=locale or prev.payload["locale"],
            attachment_size_limit=limit,
            message=message,
        )

    async def press_button(
        self,
        message: JSON | int,
        custom_id: str,
        *,
        user: Member,
        locale: str | None = None,
        attachment_size_limit: int = DEFAULT_SIZE_LIMIT,
        stale: bool = False,
    ) -> InteractionHandle:
        """Click a button. With `stale`, `message` is a copy taken earlier: a member's client
        still showing a card from before an edit, whose buttons are gone now."""
        msg = message if stale and isinstance(message, dict) else self._message(message)
        component = find_component(msg, custom_id)
        if component["type"] != 2:
            raise ValueError(f"{custom_id!r} is a type {component['type']} component, not a button")
        return await self._component(msg, component, {}, user, locale, attachment_size_limit)

    async def select(
        self,
        message: JSON | int,
        custom_id: str,
        values: Sequence[str | int],
        *,
        user: Member,
        locale: str | None = None,
        attachment_size_limit: int = DEFAULT_SIZE_LIMIT,
    ) -> InteractionHandle:
        msg = self._message(message)
        component = find_component(msg, custom_id)
        if component["type"] not in (3, 5, 6, 7, 8):
            raise ValueError(f"{custom_id!r} is a type {component['type']} component, not a select")
        extra: JSON = {"values": [str(v) for v in values]}
        guild, _channel = self.world.find_channel(int(msg["channel_id"]))
        resolved = select_resolved(guild, extra["values"])
        if component["type"] != 3 and resolved:
            extra["resolved"] = resolved
        return await self._component(msg, component, extra, user, locale, attachment_size_limit)

    async def _component(
        self, msg: JSON, component: JSON, extra: JSON, user: Member, locale: str | None, limit: int
    ) -> InteractionHandle:
        guild, channel = self.world.find_channel(int(msg["channel_id"]))
        data: JSON = {"custom_id": component["custom_id"], "component_type": component["type"]}
        if component.get("id") is not None:
            data["id"] = component["id"]
        return await self._interaction(
            kind=3,
            guild=guild,
            channel=channel,
            user=user,
            data=data | extra,
            locale=locale,
            attachment_size_limit=limit,
            message=msg,
        )

    async def run_message_context_menu(
        self,
        name: str,
        target_message: JSON | int,
        *,
        user: Member,
        locale: str | None = None,
        attachment_size_limit: int = DEFAULT_SIZE_LIMIT,
    ) -> InteractionHandle:
        """Run a message command (type 3) on a message; guild and channel are the message's."""
        msg = self._message(target_message)
        guild, channel = self.world.find_channel(int(msg["channel_id"]))
        cmd = find_command(self.world, guild, name, 3)
        data: JSON = {
            "id": cmd["id"],
            "name": name,
            "type": 3,
            "target_id": msg["id"],
            "resolved": {"messages": {msg["id"]: json.loads(json.dumps(msg))}},
        }
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        return await self._interaction(
            kind=2,
            guild=guild,
            channel=channel,
            user=user,
            data=data,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
        )

    def _message(self, message: JSON | int) -> JSON:
        mid = int(message["id"]) if isinstance(message, dict) else int(message)
        if mid not in self.world.messages:
            raise ValueError(f"the fake has no message {mid}")
        return self.world.messages[mid]

    def _channel(self, guild: Guild, channel_id: int) -> Channel:
        channel = guild.channel(channel_id)
        if channel is None:
            raise ValueError(f"channel {channel_id} is gone from guild {guild.id}")
        return channel
