"""REST handlers for the application: identity, commands, interaction callbacks and webhooks."""

from __future__ import annotations

import time

from .models import JSON
from .recording import RecordedCall
from .routing import ROUTES, Reply
from .world import EPHEMERAL, LOADING, ApiError, InteractionState, World

APP = "/applications/{application_id}"
WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    2: frozenset({4, 5, 9}),
    3: frozenset({4, 5, 6, 7, 9}),
    4: frozenset({8}),
    5: frozenset({4, 5, 6, 7}),
}


@ROUTES.route("GET", "/users/@me")
async def get_me(world: World, call: RecordedCall) -> Reply:
    me = world.bot_user.user_payload() | {
        "bot": True,
        "verified": True,
        "mfa_enabled": False,
        "email": None,
        "locale": "en-US",
        "premium_type": 0,
    }
    return Reply(body=me)


@ROUTES.route("GET", "/oauth2/applications/@me")
async def get_application(world: World, call: RecordedCall) -> Reply:
    bot = world.bot_user.user_payload() | {"bot": True}
    owner = {**bot, "id": "1000000000000000001", "username": "fake-owner"}
    owner.pop("bot")
    return Reply(
        body={
            "id": str(world.app_id),
            "name": world.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": owner,
            "team": None,
            "bot": bot,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(world.guilds),
        }
    )


@ROUTES.route("GET", "/gateway/bot")
async def get_gateway_bot(world: World, call: RecordedCall) -> Reply:
    """Asked by AutoShardedClient only; a plain Client uses DEFAULT_GATEWAY."""
    url = world.base_url.replace("http://", "ws://", 1) + "/gateway"
    limit = {
        "total": 1000,
        "remaining": 1000,
        "reset_after": 0,
        "max_concurrency": world.max_concurrency,
    }
    body = {"url": url, "shards": world.recommended_shards, "session_start_limit": limit}
    return Reply(body=body)


# -- commands ----------------------------------------------------------------------------


def _scope(world: World, call: RecordedCall) -> int | None:
    if call.params["application_id"] != str(world.app_id):
        raise ApiError(403, 50001)
    guild_id = call.params.get("guild_id")
    if guild_id is None:
        return None
    if int(guild_id) not in world.guilds:
        raise ApiError(403, 50001)
    return int(guild_id)


def _store_command(world: World, scope: int | None, cmd: JSON, previous: list[JSON]) -> JSON:
    kind = cmd.get("type", 1)
    prev = next((c for c in previous if c["name"] == cmd["name"] and c["type"] == kind), None)
    stored: JSON = {
        "id": prev["id"] if prev else str(world.ids.next()),
        "application_id": str(world.app_id),
        "version": str(world.ids.next()),
        "type": kind,
        "name": cmd["name"],
        "name_localizations": cmd.get("name_localizations"),
        "description": cmd.get("description", ""),
        "description_localizations": cmd.get("description_localizations"),
        "default_member_permissions": cmd.get("default_member_permissions"),
        "nsfw": cmd.get("nsfw", False),
        "contexts": cmd.get("contexts"),
        "integration_types": cmd.get("integration_types") or [0],
    }
    if cmd.get("options"):
        stored["options"] = cmd["options"]
    if scope is not None:
        stored["guild_id"] = str(scope)
    return stored


@ROUTES.route("PUT", APP + "/commands")
@ROUTES.route("PUT", APP + "/guilds/{guild_id}/commands")
async def overwrite_commands(world: World, call: RecordedCall) -> Reply:
    scope = _scope(world, call)
    body = call.json if isinstance(call.json, list) else []
    keys = [(c.get("name"), c.get("type", 1)) for c in body]
    if len(set(keys)) != len(keys):
        raise ApiError(
            400,
            50035,
            errors={
                "_errors": [
                    {
                        "code": "APPLICATION_COMMANDS_DUPLICATE_NAME",
                        "message": "Application command names must be unique",
                    }
                ]
            },
        )
    previous = world.commands.get(scope, [])
    world.commands[scope] = [_store_command(world, scope, c, previous) for c in body]
    return Reply(body=world.commands[scope])


@ROUTES.route("POST", APP + "/commands")
@ROUTES.route("POST", APP + "/guilds/{guild_id}/commands")
async def upsert_command(world: World, call: RecordedCall) -> Reply:
    scope = _scope(world, call)
    cmd = call.json if isinstance(call.json, dict) else {}
    previous = world.commands.get(scope, [])
    stored = _store_command(world, scope, cmd, previous)
    world.commands[scope] = [c for c in previous if c["id"] != stored["id"]] + [stored]
    return Reply(201, stored)


@ROUTES.route("GET", APP + "/commands")
@ROUTES.route("GET", APP + "/guilds/{guild_id}/commands")
async def list_commands(world: World, call: RecordedCall) -> Reply:
    return Reply(body=world.commands.get(_scope(world, call), []))


@ROUTES.route("DELETE", APP + "/commands/{command_id}")
@ROUTES.route("DELETE", APP + "/guilds/{guild_id}/commands/{command_id}")
async def delete_command(world: World, call: RecordedCall) -> Reply:
    scope = _scope(world, call)
    commands = world.commands.get(scope, [])
    kept = [c for c in commands if c["id"] != call.params["command_id"]]
    if len(kept) == len(commands):
        raise ApiError(404, 10063, "Unknown application command")
    world.commands[scope] = kept
    return Reply(204)


# -- interaction callbacks ---------------------------------------------------------------


def _response_type(ix: InteractionState) -> int:
    if ix.type == 2:
        return 23 if (ix.payload["data"].get("type", 1) in (2, 3)) else 20
    return 0


@ROUTES.route("POST", "/interactions/{interaction_id}/{interaction_token}/callback", bot_auth=False)
async def interaction_callback(world: World, call: RecordedCall) -> Reply:
    ix = world.interactions.get(int(call.params["interaction_id"]))
    if ix is None or ix.token != call.params["interaction_token"]:
        raise ApiError(404, 10062)
    if world.ack_deadline is not None and world.now() - ix.created_at > world.ack_deadline:
        raise ApiError(404, 10062)
    if ix.callback_type is not None:
        raise ApiError(400, 40060)
    body = call.json if isinstance(call.json, dict) else {}
    kind = body.get("type")
    if kind not in ALLOWED_CALLBACKS.get(ix.type, frozenset()) or (
        kind in (6, 7) and ix.source_message_id is None
    ):
        raise ApiError(
            400,
            50035,
            errors={
                "type": {
                    "_errors": [
                        {
                            "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                            "message": f"Callback type {kind} is not valid for interaction type {ix.type}",
                        }
                    ]
                }
            },
        )
    data: JSON = body.get("data") or {}
    message: JSON | None = None
    if kind == 4:
        message = world.new_message(
            channel_id=ix.channel_id,
            guild_id=ix.guild_id,
            body=data,
            files=call.files,
            message_type=_response_type(ix),
            interaction=ix,
        )
        ix.original_message_id = int(message["id"])
    elif kind == 5:
        flags = LOADING | ((data.get("flags") or 0) & EPHEMERAL)
        message = world.new_message(
            channel_id=ix.channel_id,
            guild_id=ix.guild_id,
            body={},
            files=[],
            message_type=_response_type(ix),
            flags=flags,
            interaction=ix,
        )
        ix.original_message_id = int(message["id"])
        ix.loading = True
    elif kind in (6, 7):
        ix.original_message_id = ix.source_message_id
        if kind == 7 and ix.source_message_id is not None:
            message = world.apply_edit(world.messages[ix.source_message_id], data, call.files)
    ix.callback_type, ix.callback = kind, body
    ix.acked_at = time.perf_counter()
    ix.acked.set()
    if call.query.get("with_response", "").lower() not in ("1", "true"):
        return Reply(204)
    summary: JSON = {"id": str(ix.id), "type": ix.type}
    if message is not None:
        summary |= {
            "response_message_id": message["id"],
            "response_message_loading": bool(message["flags"] & LOADING),
            "response_message_ephemeral": bool(message["flags"] & EPHEMERAL),
        }
    result: JSON = {"interaction": summary}
    if message is not None and kind in (4, 5, 7):
        result["resource"] = {"type": kind, "message": message}
    return Reply(body=result)


# -- webhooks (followups and the original response) ---------------------------------------


def _token_messages(world: World, ix: InteractionState) -> set[int]:
    ids = set(ix.followup_ids)
    if ix.original_message_id is not None:
        ids.add(ix.original_message_id)
    return ids


def _webhook_message(world: World, call: RecordedCall) -> tuple[InteractionState, JSON]:
    ix = world.interaction_by_token(call.params["webhook_id"], call.params["webhook_token"])
    raw = call.params.get("message_id", "@original")
    msg_id = ix.original_message_id if raw == "@original" else int(raw)
    if msg_id is None or msg_id not in _token_messages(world, ix) or msg_id not in world.messages:
        raise ApiError(404, 10008)
    return ix, world.messages[msg_id]


def _resolve_loading(ix: InteractionState, msg: JSON) -> None:
    """A deferred (type 5) response keeps its own flags when a followup or edit resolves it."""
    if ix.loading and int(msg["id"]) == ix.original_message_id:
        msg["flags"] &= ~LOADING
        ix.loading = False


@ROUTES.route("POST", WEBHOOK, bot_auth=False)
async def execute_webhook(world: World, call: RecordedCall) -> Reply:
    ix = world.interaction_by_token(call.params["webhook_id"], call.params["webhook_token"])
    body = call.json if isinstance(call.json, dict) else {}
    if ix.loading and ix.original_message_id in world.messages:
        msg = world.messages[ix.original_message_id]
        world.apply_edit(
            msg, {k: v for k, v in body.items() if k != "flags"}, call.files, edited=False
        )
        _resolve_loading(ix, msg)
    else:
        msg = world.new_message(
            channel_id=ix.channel_id,
            guild_id=ix.guild_id,
            body=body,
            files=call.files,
            interaction=ix,
        )
        ix.followup_ids.append(int(msg["id"]))
    if call.query.get("wait", "").lower() not in ("1", "true"):
        return Reply(204)
    return Reply(body=msg)


@ROUTES.route("GET", WEBHOOK + "/messages/@original", bot_auth=False)
@ROUTES.route("GET", WEBHOOK + "/messages/{message_id}", bot_auth=False)
async def get_webhook_message(world: World, call: RecordedCall) -> Reply:
    _ix, msg = _webhook_message(world, call)
    return Reply(body=msg)


@ROUTES.route("PATCH", WEBHOOK + "/messages/@original", bot_auth=False)
@ROUTES.route("PATCH", WEBHOOK + "/messages/{message_id}", bot_auth=False)
async def edit_webhook_message(world: World, call: RecordedCall) -> Reply:
    ix, msg = _webhook_message(world, call)
    body = call.json if isinstance(call.json, dict) else {}
    world.apply_edit(msg, body, call.files, edited=not ix.loading)
    _resolve_loading(ix, msg)
    return Reply(body=msg)


@ROUTES.route("DELETE", WEBHOOK + "/messages/@original", bot_auth=False)
@ROUTES.route("DELETE", WEBHOOK + "/messages/{message_id}", bot_auth=False)
async def delete_webhook_message(world: World, call: RecordedCall) -> Reply:
    ix, msg = _webhook_message(world, call)
    del world.messages[int(msg["id"])]
    ix.loading = False
    return Reply(204)
