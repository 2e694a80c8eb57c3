"""REST handlers for guilds, channels, messages and threads (the bot's own token)."""

from __future__ import annotations

from typing import Any

from .models import JSON, Channel, ChannelType, Guild, Perm, snowflake_iso
from .recording import KNOWN_ERRORS, FailureRule, RecordedCall
from .routing import ROUTES, Reply
from .world import EPHEMERAL, HAS_THREAD, ApiError, World

CH = "/channels/{channel_id}"
MSG = CH + "/messages/{message_id}"


def _ids(call: RecordedCall, *names: str) -> list[int]:
    try:
        return [int(call.params[n]) for n in names]
    except ValueError as exc:
        raise ApiError(404, 10003) from exc


def _body(call: RecordedCall) -> JSON:
    return call.json if isinstance(call.json, dict) else {}


# -- guilds and users --------------------------------------------------------------------


def _guild(world: World, call: RecordedCall) -> Guild:
    (guild_id,) = _ids(call, "guild_id")
    guild = world.guilds.get(guild_id)
    if guild is None:
        raise ApiError(404, 10004, "Unknown Guild")
    return guild


@ROUTES.route("GET", "/guilds/{guild_id}")
async def get_guild(world: World, call: RecordedCall) -> Reply:
    return Reply(body=_guild(world, call).payload())


@ROUTES.route("GET", "/guilds/{guild_id}/channels")
async def get_guild_channels(world: World, call: RecordedCall) -> Reply:
    guild = _guild(world, call)
    return Reply(body=[c.payload() for c in guild.channels if not c.is_thread])


@ROUTES.route("GET", "/guilds/{guild_id}/roles")
async def get_guild_roles(world: World, call: RecordedCall) -> Reply:
    return Reply(body=[r.payload() for r in _guild(world, call).roles])


@ROUTES.route("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_guild_member(world: World, call: RecordedCall) -> Reply:
    guild = _guild(world, call)
    member = guild.member(int(call.params["user_id"]))
    if member is None:
        raise ApiError(404, 10007, "Unknown Member")
    return Reply(body=member.member_payload())


@ROUTES.route("GET", "/users/{user_id}")
async def get_user(world: World, call: RecordedCall) -> Reply:
    user_id = int(call.params["user_id"])
    for guild in world.guilds.values():
        member = guild.member(user_id)
        if member is not None:
            return Reply(body=member.user_payload())
    raise ApiError(404, 10013, "Unknown User")


# -- channels ----------------------------------------------------------------------------


@ROUTES.route("GET", CH)
async def get_channel(world: World, call: RecordedCall) -> Reply:
    guild, channel = world.find_channel(*_ids(call, "channel_id"))
    world.require(guild, channel, Perm.VIEW_CHANNEL)
    return Reply(body=channel.payload())


@ROUTES.route("PATCH", CH)
async def edit_channel(world: World, call: RecordedCall) -> Reply:
    guild, channel = world.find_channel(*_ids(call, "channel_id"))
    body = _body(call)
    if channel.is_thread and channel.owner_id != guild.bot_member_id:
        world.require(guild, channel, Perm.MANAGE_THREADS)
    elif not channel.is_thread:
        world.require(guild, channel, Perm.MANAGE_CHANNELS)
    for key in ("name", "topic", "nsfw", "rate_limit_per_user", "archived", "locked"):
        if key in body:
            setattr(channel, key, body[key])
    if "auto_archive_duration" in body:
        channel.auto_archive_duration = int(body["auto_archive_duration"])
    if "applied_tags" in body:
        channel.applied_tags = [int(t) for t in body["applied_tags"] or []]
    if "invitable" in body:
        channel.invitable = bool(body["invitable"])
    payload = channel.payload()
    await world.emit("THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE", payload)
    return Reply(body=payload)


@ROUTES.route("DELETE", CH)
async def delete_channel(world: World, call: RecordedCall) -> Reply:
    guild, channel = world.find_channel(*_ids(call, "channel_id"))
    world.require(
        guild, channel, Perm.MANAGE_THREADS if channel.is_thread else Perm.MANAGE_CHANNELS
    )
    guild.channels.remove(channel)
    payload = channel.payload()
    await world.emit("THREAD_DELETE" if channel.is_thread else "CHANNEL_DELETE", payload)
    return Reply(body=payload)


@ROUTES.route("POST", CH + "/typing")
async def trigger_typing(world: World, call: RecordedCall) -> Reply:
    world.find_channel(*_ids(call, "channel_id"))
    return Reply(204)


# -- messages ----------------------------------------------------------------------------


def _send_permissions(channel: Channel, call: RecordedCall) -> int:
    needed = Perm.VIEW_CHANNEL
    needed |= Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
    if call.files:
        needed |= Perm.ATTACH_FILES
    return needed


@ROUTES.route("POST", CH + "/messages")
async def create_message(world: World, call: RecordedCall) -> Reply:
    guild, channel = world.find_channel(*_ids(call, "channel_id"))
    if channel.is_forum or channel.type == ChannelType.GUILD_CATEGORY:
        raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
    world.require(guild, channel, _send_permissions(channel, call))
    earlier = _same_nonce(world, _body(call))
    if earlier is not None:
        return Reply(body=earlier)
    if channel.is_thread:
        if channel.locked and not world.bot_permissions(guild, channel) & Perm.MANAGE_THREADS:
            raise ApiError(403, 50083, "Thread is archived")
        channel.archived = False
        channel.message_count += 1
    msg = world.new_message(
        channel_id=channel.id, guild_id=guild.id, body=_body(call), files=call.files
    )
    _remember_nonce(world, msg)
    return Reply(body=msg)


# `enforce_nonce`, as Discord documents it: "If true and nonce is present, it will be checked
# for uniqueness in the past few minutes. If another message was created by the same author
# with the same nonce, that message will be returned and no new message will be created."
# Only the bot creates messages through this route, so "the same author" always holds.
NONCE_WINDOW_SECONDS = 120.0


def _same_nonce(world: World, body: JSON) -> JSON | None:
    nonce = body.get("nonce")
    if nonce is None or not body.get("enforce_nonce"):
        return None
    seen = world.nonces.get(str(nonce))
    if seen is None or world.now() - seen[1] > NONCE_WINDOW_SECONDS:
        return None
    return world.messages.get(seen[0])


def _remember_nonce(world: World, msg: JSON) -> None:
    if msg.get("nonce") is not None:
        world.nonces[str(msg["nonce"])] = (int(msg["id"]), world.now())


@ROUTES.route("GET", CH + "/messages")
async def list_messages(world: World, call: RecordedCall) -> Reply:
    guild, channel = world.find_channel(*_ids(call, "channel_id"))
    world.require(guild, channel, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
    limit = int(call.query.get("limit", "50"))
    before = int(call.query.get("before", str(1 << 63)))
    after = int(call.query.get("after", "0"))
    found = [
        m
        for m_id, m in world.messages.items()
        if m["channel_id"] == str(channel.id)
        and not m["flags"] & EPHEMERAL
        and after < m_id < before
    ]
    found.sort(key=lambda m: int(m["id"]), reverse=True)
    return Reply(body=found[:limit])


@ROUTES.route("GET", MSG)
async def get_message(world: World, call: RecordedCall) -> Reply:
    channel_id, message_id = _ids(call, "channel_id", "message_id")
    guild, channel = world.find_channel(channel_id)
    world.require(guild, channel, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
    return Reply(body=world.channel_message(channel_id, message_id))


# Edits of a message older than an hour have a budget of their own; Discord does not publish
# it (reports hit it after a handful). Past it: 429 with code 30046 until the hour's first
# such edit is an hour old.
OLD_MESSAGE_SECONDS = 3600.0
OLD_MESSAGE_EDITS_PER_HOUR = 3


def _old_message_refusal(world: World, message_id: int) -> Reply | None:
    """Counts an edit of an old message; a 429 (30046) when its budget is spent."""
    if world.message_age(message_id) <= OLD_MESSAGE_SECONDS:
        return None
    now = world.wall_now()
    recent = [at for at in world.old_message_edits.get(message_id, []) if now - at < 3600]
    if len(recent) >= OLD_MESSAGE_EDITS_PER_HOUR:
        wait = 3600 - (now - recent[0])
        status, body, headers = FailureRule(MSG, 429, code=30046, retry_after=wait).response()
        body["message"] = KNOWN_ERRORS[30046]
        return Reply(status=status, body=body, headers=headers)
    world.old_message_edits[message_id] = [*recent, now]
    return None


@ROUTES.route("PATCH", MSG)
async def edit_message(world: World, call: RecordedCall) -> Reply:
    channel_id, message_id = _ids(call, "channel_id", "message_id")
    world.find_channel(channel_id)
    msg = world.channel_message(channel_id, message_id)
    if msg["author"]["id"] != str(world.bot_user.id):
        raise ApiError(403, 50005)
    refused = _old_message_refusal(world, message_id)
    if refused is not None:
        return refused
    return Reply(body=world.apply_edit(msg, _body(call), call.files))


@ROUTES.route("DELETE", MSG)
async def delete_message(world: World, call: RecordedCall) -> Reply:
    channel_id, message_id = _ids(call, "channel_id", "message_id")
    guild, channel = world.find_channel(channel_id)
    msg = world.channel_message(channel_id, message_id)
    if msg["author"]["id"] != str(world.bot_user.id):
        world.require(guild, channel, Perm.MANAGE_MESSAGES)
    del world.messages[message_id]
    return Reply(204)


@ROUTES.route("PUT", MSG + "/reactions/{emoji_name}/@me")
async def add_reaction(world: World, call: RecordedCall) -> Reply:
    channel_id, message_id = _ids(call, "channel_id", "message_id")
    guild, channel = world.find_channel(channel_id)
    world.require(guild, channel, Perm.VIEW_CHANNEL | Perm.ADD_REACTIONS)
    world.channel_message(channel_id, message_id)
    return Reply(204)


# -- threads -----------------------------------------------------------------------------


def _new_thread(
    world: World, guild: Guild, parent: Channel, body: JSON, thread_id: int, kind: int
) -> Channel:
    thread = Channel(
        id=thread_id,
        name=str(body.get("name", "")),
        type=kind,
        parent_id=parent.id,
        guild_id=guild.id,
        owner_id=guild.bot_member_id,
        auto_archive_duration=int(body.get("auto_archive_duration") or 4320),
        rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
        invitable=bool(body.get("invitable", True)),
        applied_tags=[int(t) for t in body.get("applied_tags") or []],
        member_ids={guild.bot_member_id},
    )
    guild.channels.append(thread)
    return thread


async def _announce_thread(world: World, thread: Channel) -> JSON:
    payload = thread.payload()
    member = {
        "id": str(thread.id),
        "user_id": str(thread.owner_id),
        "join_timestamp": snowflake_iso(thread.id),
        "flags": 0,
    }
    await world.emit("THREAD_CREATE", payload | {"newly_created": True, "member": member})
    return payload | {"member": member}


@ROUTES.route("POST", MSG + "/threads")
async def start_thread_from_message(world: World, call: RecordedCall) -> Reply:
    channel_id, message_id = _ids(call, "channel_id", "message_id")
    guild, parent = world.find_channel(channel_id)
    if parent.type not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    world.require(guild, parent, Perm.VIEW_CHANNEL | Perm.CREATE_PUBLIC_THREADS)
    msg = world.channel_message(channel_id, message_id)
    if guild.channel(message_id) is not None or msg["flags"] & HAS_THREAD:
        raise ApiError(400, 160004)
    kind = (
        ChannelType.ANNOUNCEMENT_THREAD
        if parent.type == ChannelType.GUILD_ANNOUNCEMENT
        else ChannelType.PUBLIC_THREAD
    )
    thread = _new_thread(world, guild, parent, _body(call), message_id, kind)
    msg["flags"] |= HAS_THREAD
    msg["thread"] = thread.payload()
    return Reply(body=await _announce_thread(world, thread))


@ROUTES.route("POST", CH + "/threads")
async def start_thread(world: World, call: RecordedCall) -> Reply:
    (channel_id,) = _ids(call, "channel_id")
    guild, parent = world.find_channel(channel_id)
    body = _body(call)
    if parent.is_forum:
        world.require(guild, parent, Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)
        if not isinstance(body.get("message"), dict):
            raise ApiError(
                400,
                50035,
                errors={
                    "message": {
                        "_errors": [
                            {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
                        ]
                    }
                },
            )
        thread = _new_thread(
            world, guild, parent, body, world.ids.next(), ChannelType.PUBLIC_THREAD
        )
        thread.message_count = 1
        starter = world.new_message(
            channel_id=thread.id,
            guild_id=guild.id,
            body=body["message"],
            files=call.files,
            message_id=thread.id,
        )
        payload = await _announce_thread(world, thread)
        return Reply(body=payload | {"message": starter})
    if parent.type not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    kind = int(body.get("type") or ChannelType.PRIVATE_THREAD)
    needed = (
        Perm.CREATE_PRIVATE_THREADS
        if kind == ChannelType.PRIVATE_THREAD
        else Perm.CREATE_PUBLIC_THREADS
    )
    world.require(guild, parent, Perm.VIEW_CHANNEL | needed)
    thread = _new_thread(world, guild, parent, body, world.ids.next(), kind)
    return Reply(body=await _announce_thread(world, thread))


def _thread(world: World, call: RecordedCall) -> tuple[Guild, Channel]:
    guild, channel = world.find_channel(*_ids(call, "channel_id"))
    if not channel.is_thread:
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    return guild, channel


def _thread_member(thread: Channel, user_id: int) -> dict[str, Any]:
    return {
        "id": str(thread.id),
        "user_id": str(user_id),
        "join_timestamp": snowflake_iso(thread.id),
        "flags": 0,
    }


@ROUTES.route("PUT", CH + "/thread-members/@me")
async def join_thread(world: World, call: RecordedCall) -> Reply:
    guild, thread = _thread(world, call)
    thread.member_ids.add(guild.bot_member_id)
    return Reply(204)


@ROUTES.route("DELETE", CH + "/thread-members/@me")
async def leave_thread(world: World, call: RecordedCall) -> Reply:
    guild, thread = _thread(world, call)
    thread.member_ids.discard(guild.bot_member_id)
    return Reply(204)


@ROUTES.route("PUT", CH + "/thread-members/{user_id}")
async def add_thread_member(world: World, call: RecordedCall) -> Reply:
    guild, thread = _thread(world, call)
    user_id = int(call.params["user_id"])
    if guild.member(user_id) is None:
        raise ApiError(404, 10013, "Unknown User")
    if thread.archived:
        raise ApiError(400, 50083, "Thread is archived")
    thread.member_ids.add(user_id)
    return Reply(204)


@ROUTES.route("DELETE", CH + "/thread-members/{user_id}")
async def remove_thread_member(world: World, call: RecordedCall) -> Reply:
    _, thread = _thread(world, call)
    thread.member_ids.discard(int(call.params["user_id"]))
    return Reply(204)


@ROUTES.route("GET", CH + "/thread-members/{user_id}")
async def get_thread_member(world: World, call: RecordedCall) -> Reply:
    _, thread = _thread(world, call)
    user_id = int(call.params["user_id"])
    if user_id not in thread.member_ids:
        raise ApiError(404, 10013, "Unknown User")
    return Reply(body=_thread_member(thread, user_id))


@ROUTES.route("GET", CH + "/thread-members")
async def list_thread_members(world: World, call: RecordedCall) -> Reply:
    _, thread = _thread(world, call)
    return Reply(body=[_thread_member(thread, u) for u in sorted(thread.member_ids)])
