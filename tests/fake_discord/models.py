"""Guilds, channels, roles and members the fake serves, and the JSON Discord sends for them.

Ids are fixed snowflakes chosen by the test; ids the fake makes itself come from
`Snowflakes`, a counter, so two runs of a test see the same ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
# 2026-01-01T00:00:00Z: ids the fake makes start here and go up one millisecond each.
BASE_TIME_MS = 1_767_225_600_000
FIXED_JOINED_AT = "2025-01-01T00:00:00.000000+00:00"


class Perm:
    """Permission bits the fake computes with (Discord's values)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38

    ALL = (1 << 51) - 1
    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | SEND_MESSAGES_IN_THREADS
    )
    BOT_DEFAULT = EVERYONE_DEFAULT | MANAGE_MESSAGES | MANAGE_THREADS


class ChannelType:
    GUILD_TEXT = 0
    DM = 1
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_FORUM = 15
    GUILD_MEDIA = 16

    THREADS = frozenset({10, 11, 12})
    FORUMS = frozenset({15, 16})


class Snowflakes:
    """Increasing snowflakes. With `clock` (seconds), dated by it as Discord's are by real
    time: a bot may date things by ids (read a thread's history after a moment). Without,
    from a fixed start, one millisecond apart: deterministic."""

    def __init__(
        self, start_ms: int = BASE_TIME_MS, clock: Callable[[], float] | None = None
    ) -> None:
        self._next_ms = start_ms
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        if self._clock is None:
            ms = self._next_ms
            self._next_ms += 1
            return (ms - DISCORD_EPOCH_MS) << 22
        dated = (int(self._clock() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(self._last + 1, dated)
        return self._last


def snowflake_iso(snowflake: int) -> str:
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="microseconds")


@dataclass
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 1
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Member:
    """A guild member (the bot's own member is added by the fake)."""

    id: int
    username: str
    roles: list[int] = field(default_factory=list)
    global_name: str | None = None
    nick: str | None = None
    bot: bool = False
    joined_at: str = FIXED_JOINED_AT
    locale: str = "en-US"

    def user_payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "avatar_decoration_data": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
        }
        if self.bot:
            data["bot"] = True
        return data

    def member_payload(self, *, with_user: bool = True) -> JSON:
        data: JSON = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user_payload()
        return data


@dataclass
class Overwrite:
    """A channel permission overwrite: `type` 0 for a role, 1 for a member."""

    id: int
    type: int = 0
    allow: int = 0
    deny: int = 0

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    """A guild channel or thread. `extra` is merged into its payload as is."""

    id: int
    name: str
    type: int = ChannelType.GUILD_TEXT
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    overwrites: list[Overwrite] = field(default_factory=list)
    rate_limit_per_user: int = 0
    guild_id: int = 0
    # threads
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    invitable: bool = True
    applied_tags: list[int] = field(default_factory=list)
    message_count: int = 0
    member_ids: set[int] = field(default_factory=set)
    # forums
    available_tags: list[JSON] = field(default_factory=list)
    flags: int = 0
    extra: JSON = field(default_factory=dict)

    @property
    def is_thread(self) -> bool:
        return self.type in ChannelType.THREADS

    @property
    def is_forum(self) -> bool:
        return self.type in ChannelType.FORUMS

    def payload(self, *, with_guild_id: bool = True) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "flags": self.flags,
            "rate_limit_per_user": self.rate_limit_per_user,
            "parent_id": str(self.parent_id) if self.parent_id is not None else None,
        }
        if with_guild_id:
            data["guild_id"] = str(self.guild_id)
        if self.is_thread:
            data.update(
                {
                    "owner_id": str(self.owner_id) if self.owner_id is not None else None,
                    "last_message_id": None,
                    "message_count": self.message_count,
                    "total_message_sent": self.message_count,
                    "member_count": len(self.member_ids),
                    "applied_tags": [str(t) for t in self.applied_tags],
                    "thread_metadata": {
                        "archived": self.archived,
                        "auto_archive_duration": self.auto_archive_duration,
                        "archive_timestamp": snowflake_iso(self.id),
                        "locked": self.locked,
                        "invitable": self.invitable,
                        "create_timestamp": snowflake_iso(self.id),
                    },
                }
            )
        else:
            data.update(
                {
                    "position": self.position,
                    "permission_overwrites": [o.payload() for o in self.overwrites],
                    "nsfw": self.nsfw,
                    "topic": self.topic,
                    "last_message_id": None,
                }
            )
            if self.is_forum:
                data.update(
                    {
                        "available_tags": self.available_tags,
                        "default_reaction_emoji": None,
                        "default_sort_order": None,
                        "default_forum_layout": 0,
                        "default_thread_rate_limit_per_user": 0,
                    }
                )
        data.update(self.extra)
        return data


@dataclass
class Guild:
    """A guild; `add_guild` adds the @everyone role (id = guild id) and the bot's member."""

    id: int
    name: str
    channels: list[Channel] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    owner_id: int = 0
    preferred_locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    premium_tier: int = 0
    bot_member_id: int = 0

    def channel(self, channel_id: int) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def role(self, role_id: int) -> Role | None:
        return next((r for r in self.roles if r.id == role_id), None)

    def member(self, user_id: int) -> Member | None:
        return next((m for m in self.members if m.id == user_id), None)

    @property
    def bot_member(self) -> Member:
        member = self.member(self.bot_member_id)
        if member is None:
            raise LookupError(f"guild {self.id} has no bot member")
        return member

    @property
    def everyone(self) -> Role:
        role = self.role(self.id)
        if role is None:
            raise LookupError(f"guild {self.id} has no @everyone role")
        return role

    def base_permissions(self, member: Member) -> int:
        if member.id == self.owner_id:
            return Perm.ALL
        perms = self.everyone.permissions
        for role_id in member.roles:
            role = self.role(role_id)
            if role is not None:
                perms |= role.permissions
        return Perm.ALL if perms & Perm.ADMINISTRATOR else perms

    def permissions_in(self, member: Member, channel: Channel) -> int:
        """Discord's algorithm: base, then @everyone, role and member overwrites.

        A thread takes its parent's overwrites.
        """
        perms = self.base_permissions(member)
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        source = channel
        if channel.is_thread and channel.parent_id is not None:
            source = self.channel(channel.parent_id) or channel
        by_id = {o.id: o for o in source.overwrites}
        everyone = by_id.get(self.id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.roles:
            o = by_id.get(role_id)
            if o is not None and o.type == 0:
                allow |= o.allow
                deny |= o.deny
        perms = (perms & ~deny) | allow
        own = by_id.get(member.id)
        if own is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        return perms

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "features": list(self.features),
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def gateway_payload(self) -> JSON:
        """GUILD_CREATE: the guild plus channels, active threads and members (bot included)."""
        data = self.payload()
        data.update(
            {
                "joined_at": FIXED_JOINED_AT,
                "large": False,
                "unavailable": False,
                "member_count": len(self.members),
                "voice_states": [],
                "members": [m.member_payload() for m in self.members],
                "channels": [
                    c.payload(with_guild_id=False) for c in self.channels if not c.is_thread
                ],
                "threads": [c.payload() for c in self.channels if c.is_thread and not c.archived],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return data
