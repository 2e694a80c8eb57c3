"""INTERACTION_CREATE payloads shaped like Discord's, and the handle a test holds."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .models import JSON, Channel, Guild, Member, Role
from .world import InteractionState, World

if TYPE_CHECKING:
    from .recording import RecordedCall
    from .server import FakeDiscord

DEFAULT_SIZE_LIMIT = 10 * 1024 * 1024


class InteractionHandle:
    """An interaction the fake dispatched: its payload, and what the bot answered."""

    def __init__(self, fd: FakeDiscord, state: InteractionState) -> None:
        self._fd = fd
        self.state = state

    @property
    def id(self) -> int:
        return self.state.id

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def payload(self) -> JSON:
        return self.state.payload

    @property
    def callback(self) -> JSON | None:
        """The accepted callback body, e.g. {"type": 9, "data": {...modal...}}, or None."""
        return self.state.callback

    @property
    def callback_type(self) -> int | None:
        return self.state.callback_type

    @property
    def modal(self) -> JSON | None:
        cb = self.state.callback
        return cb.get("data") if cb is not None and cb.get("type") == 9 else None

    @property
    def choices(self) -> list[JSON] | None:
        """The choices an autocomplete answer (callback type 8) offered, or None."""
        cb = self.state.callback
        if cb is None or cb.get("type") != 8:
            return None
        return list((cb.get("data") or {}).get("choices") or [])

    @property
    def callback_calls(self) -> list[RecordedCall]:
        """Every callback request for this interaction, accepted or not."""
        prefix = f"/interactions/{self.state.id}/"
        return [c for c in self._fd.calls if c.path.startswith(prefix)]

    @property
    def original_message(self) -> JSON | None:
        mid = self.state.original_message_id
        return self._fd.messages.get(mid) if mid is not None else None

    @property
    def followups(self) -> list[JSON]:
        return [self._fd.messages[i] for i in self.state.followup_ids if i in self._fd.messages]

    @property
    def webhook_calls(self) -> list[RecordedCall]:
        """Followups and @original requests made with this interaction's token."""
        return [c for c in self._fd.calls if c.params.get("webhook_token") == self.state.token]

    async def wait_callback(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        try:
            await asyncio.wait_for(self.state.acked.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"interaction {self.state.id} got no accepted callback in {timeout}s\n"
                + self._fd.describe_calls(last=10)
            ) from None
        assert self.state.callback is not None
        return self.state.callback

    def __repr__(self) -> str:
        return (
            f"<InteractionHandle id={self.state.id} type={self.state.type} cb={self.callback_type}>"
        )


def base_payload(
    world: World,
    *,
    kind: int,
    interaction_id: int,
    token: str,
    guild: Guild,
    channel: Channel,
    user: Member,
    data: JSON,
    locale: str,
    attachment_size_limit: int,
    message: JSON | None = None,
) -> JSON:
    perms = guild.permissions_in(user, channel)
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(world.app_id),
        "type": kind,
        "data": data,
        "guild_id": str(guild.id),
        "guild": {
            "id": str(guild.id),
            "locale": guild.preferred_locale,
            "features": guild.features,
        },
        "channel_id": str(channel.id),
        "channel": channel.payload() | {"permissions": str(perms)},
        "member": user.member_payload() | {"permissions": str(perms)},
        "token": token,
        "version": 1,
        "locale": locale,
        "guild_locale": guild.preferred_locale,
        "app_permissions": str(world.bot_permissions(guild, channel)),
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": attachment_size_limit,
    }
    if message is not None:
        payload["message"] = message
    return payload


def find_command(world: World, guild: Guild, name: str, kind: int) -> JSON:
    for scope in (guild.id, None):
        for cmd in world.commands.get(scope, []):
            if cmd["name"] == name and cmd["type"] == kind:
                return cmd
    known = sorted(c["name"] for cmds in world.commands.values() for c in cmds)
    raise ValueError(f"command {name!r} (type {kind}) is not registered; synced: {known}")


def command_data(
    world: World,
    guild: Guild,
    name: str,
    options: Mapping[str, Any],
    *,
    focused: str | None = None,
) -> tuple[JSON, JSON]:
    """`data` for a chat input command; `name` may be "group sub". Returns (data, resolved).

    With `focused`, the data of an autocomplete interaction: that option holds what the
    member has typed so far (any text, as the client sends it) and is marked focused;
    options not filled in yet may be missing. Discord asks only for an option the command
    registered with `autocomplete`."""
    root, *path = name.split()
    cmd = find_command(world, guild, root, 1)
    resolved: JSON = {}
    data: JSON = {"id": cmd["id"], "name": root, "type": 1}
    if "guild_id" in cmd:
        data["guild_id"] = cmd["guild_id"]
    defs: list[JSON] = cmd.get("options") or []
    target = data
    for part in path:
        sub = next((o for o in defs if o["name"] == part and o["type"] in (1, 2)), None)
        if sub is None:
            raise ValueError(f"{name!r}: no subcommand {part!r}")
        node: JSON = {"name": part, "type": sub["type"], "options": []}
        target.setdefault("options", []).append(node)
        target, defs = node, sub.get("options") or []
    unknown = set(options) - {d["name"] for d in defs}
    if unknown:
        raise ValueError(
            f"{name!r} has no options {sorted(unknown)}; it has {[d['name'] for d in defs]}"
        )
    leaf = [
        typed_value(d, options[d["name"]])
        if d["name"] == focused
        else option_value(guild, d, options[d["name"]], resolved)
        for d in defs
        if d["name"] in options
    ]
    if focused is not None and not any(
        d["name"] == focused and d.get("autocomplete") for d in defs
    ):
        raise ValueError(f"{name!r}: option {focused!r} was not registered with autocomplete")
    missing = [d["name"] for d in defs if d.get("required") and d["name"] not in options]
    if missing and focused is None:
        raise ValueError(f"{name!r}: the Discord client requires options {missing}")
    if leaf or "options" in target:
        target["options"] = leaf
    if resolved:
        data["resolved"] = resolved
    return data, resolved


def typed_value(definition: JSON, value: Any) -> JSON:
    """The focused option of an autocomplete interaction: the text typed so far."""
    return {
        "name": definition["name"],
        "type": definition["type"],
        "value": str(value),
        "focused": True,
    }


def option_value(guild: Guild, definition: JSON, value: Any, resolved: JSON) -> JSON:
    kind = definition["type"]
    out: JSON = {"name": definition["name"], "type": kind}
    if kind == 11:
        if not isinstance(value, dict) or "id" not in value:
            raise ValueError(f"option {definition['name']!r} wants fd.attachment(...)")
        resolved.setdefault("attachments", {})[value["id"]] = value
        out["value"] = value["id"]
    elif kind in (6, 9) and isinstance(value, Member):
        resolved.setdefault("users", {})[str(value.id)] = value.user_payload()
        resolved.setdefault("members", {})[str(value.id)] = value.member_payload(with_user=False)
        out["value"] = str(value.id)
    elif kind in (8, 9) and isinstance(value, Role):
        resolved.setdefault("roles", {})[str(value.id)] = value.payload()
        out["value"] = str(value.id)
    elif kind == 7 and isinstance(value, Channel):
        resolved.setdefault("channels", {})[str(value.id)] = value.payload() | {
            "permissions": str(0)
        }
        out["value"] = str(value.id)
    elif kind in (4, 10):
        number = int(value) if kind == 4 else float(value)
        lo, hi = definition.get("min_value"), definition.get("max_value")
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise ValueError(f"option {definition['name']!r}={value} is outside {lo}..{hi}")
        out["value"] = number
    elif kind == 5:
        out["value"] = bool(value)
    else:
        out["value"] = str(value)
    choices = definition.get("choices")
    if choices and out["value"] not in [c["value"] for c in choices]:
        raise ValueError(f"option {definition['name']!r}={value!r} is not one of its choices")
    return out


def modal_submit_data(
    modal: JSON,
    values: Mapping[str, Any],
    files: Mapping[str, Sequence[JSON]],
    size_limit: int,
) -> JSON:
    """The `data` of a MODAL_SUBMIT for `modal` (the bot's type-9 callback data).

    Keys of `values`/`files` are custom_ids (or a Label's text); a text field not named
    keeps the value the bot prefilled (`default=`). Refuses what the Discord
    client would not let a user submit: a required field left empty, too short or long
    text, too many files, a file over the upload limit.
    """
    used: set[str] = set()
    resolved: dict[str, JSON] = {}

    def lookup(source: Mapping[str, Any], component: JSON, label: str | None) -> Any:
        for key in (component.get("custom_id"), label):
            if key is not None and key in source:
                used.add(key)
                return source[key]
        return None

    def submit(component: JSON, label: str | None) -> JSON:
        kind, cid = component["type"], component.get("custom_id")
        out: JSON = {"type": kind}
        if component.get("id") is not None:
            out["id"] = component["id"]
        if cid is None:
            return out
        out["custom_id"] = cid
        name = label or cid
        if kind == 4:
            text = lookup(values, component, label)
            # A field the member did not touch sends what it was prefilled with.
            text = str(component.get("value") or "") if text is None else str(text)
            required = component.get("required", True)
            lo, hi = component.get("min_length", 0), component.get("max_length", 4000)
            if (required or text) and not lo <= len(text) <= hi:
                raise ValueError(f"text field {name!r}: {len(text)} chars, allowed {lo}..{hi}")
            if required and not text:
                raise ValueError(f"text field {name!r} is required")
            out["value"] = text
        elif kind == 19:
            chosen = list(lookup(files, component, label) or [])
            required = component.get("required", True)
            lo = max(component.get("min_values") or 0, 1 if required else 0)
            hi = component.get("max_values") or 1
            if (required or chosen) and not lo <= len(chosen) <= hi:
                raise ValueError(f"file upload {name!r}: {len(chosen)} files, allowed {lo}..{hi}")
            for att in chosen:
                if att["size"] > size_limit:
                    raise ValueError(
                        f"{att['filename']} ({att['size']} B) is over the upload limit {size_limit} B"
                    )
                resolved[att["id"]] = att
            out["values"] = [a["id"] for a in chosen]
        elif kind == 3:
            out["values"] = string_select_values(component, lookup(values, component, label), name)
        elif kind in (5, 6, 7, 8, 22):
            out["values"] = [str(v) for v in lookup(values, component, label) or []]
        elif kind == 21:
            out["value"] = lookup(values, component, label)
        elif kind == 23:
            out["value"] = bool(lookup(values, component, label))
        return out

    rows: list[JSON] = []
    for top in modal.get("components", []):
        if top["type"] == 18:
            row: JSON = {"type": 18, "component": submit(top["component"], top.get("label"))}
        elif top["type"] == 1:
            row = {"type": 1, "components": [submit(c, c.get("label")) for c in top["components"]]}
        else:
            row = {"type": top["type"]}
        if top.get("id") is not None:
            row["id"] = top["id"]
        rows.append(row)
    unknown = (set(values) | set(files)) - used
    if unknown:
        raise ValueError(f"modal {modal.get('custom_id')!r} has no fields {sorted(unknown)}")
    data: JSON = {"custom_id": modal["custom_id"], "components": rows}
    if resolved:
        data["resolved"] = {"attachments": resolved}
    return data


def string_select_values(component: JSON, chosen: Any, name: str) -> list[str]:
    """What a string select in a modal sends: the member's picks, or (untouched) the
    options marked default. The client offers only the select's own options, as many as
    min/max_values allow, and insists on one where the select is required."""
    options = [str(o["value"]) for o in component.get("options", [])]
    if chosen is None:
        picked = [str(o["value"]) for o in component.get("options", []) if o.get("default")]
    else:
        picked = [str(v) for v in chosen]
    strangers = [v for v in picked if v not in options]
    if strangers:
        raise ValueError(f"select {name!r} offers {options}, not {strangers}")
    required = component.get("required", True)
    lo = max(component.get("min_values") or 0, 1 if required else 0)
    hi = component.get("max_values") or 1
    if (required or picked) and not lo <= len(picked) <= hi:
        raise ValueError(f"select {name!r}: {len(picked)} chosen, allowed {lo}..{hi}")
    return picked


def find_component(message: JSON, custom_id: str) -> JSON:
    """The component with `custom_id` anywhere in a message's components."""

    def walk(node: Any) -> JSON | None:
        if isinstance(node, list):
            for item in node:
                found = walk(item)
                if found is not None:
                    return found
        elif isinstance(node, dict):
            if node.get("custom_id") == custom_id:
                return node
            for key in ("components", "component", "accessory"):
                if key in node:
                    found = walk(node[key])
                    if found is not None:
                        return found
        return None

    found = walk(message.get("components", []))
    if found is None:
        raise ValueError(f"message {message['id']} has no component {custom_id!r}")
    if found.get("disabled"):
        raise ValueError(f"component {custom_id!r} is disabled: a user cannot use it")
    return found


def select_resolved(guild: Guild, values: list[str]) -> JSON:
    resolved: JSON = {}
    for value in values:
        if not value.isdigit():
            continue
        vid = int(value)
        member, role, channel = guild.member(vid), guild.role(vid), guild.channel(vid)
        if member is not None:
            resolved.setdefault("users", {})[value] = member.user_payload()
            resolved.setdefault("members", {})[value] = member.member_payload(with_user=False)
        if role is not None:
            resolved.setdefault("roles", {})[value] = role.payload()
        if channel is not None:
            resolved.setdefault("channels", {})[value] = channel.payload() | {"permissions": "0"}
    return resolved
