"""A ready-made guild for tests: fixed ids, a text channel, a forum, members and roles."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Channel, ChannelType, Guild, Member, Perm, Role
from .server import FakeDiscord

GUILD_ID = 1_200_000_000_000_000_001
TEXT_CHANNEL_ID = 1_200_000_000_000_000_101
FORUM_CHANNEL_ID = 1_200_000_000_000_000_102
MEMBER_ROLE_ID = 1_200_000_000_000_000_201
ADMIN_ROLE_ID = 1_200_000_000_000_000_202
ALICE_ID = 1_200_000_000_000_000_301
BOB_ID = 1_200_000_000_000_000_302
ADMIN_ID = 1_200_000_000_000_000_303


@dataclass
class StandardGuild:
    """A guild with a text channel, a forum, a plain member role and an admin."""

    guild: Guild
    text: Channel
    forum: Channel
    member_role: Role
    admin_role: Role
    alice: Member  # has the member role
    bob: Member  # no extra role
    admin: Member  # Manage Server


def add_standard_guild(fd: FakeDiscord, *, locale: str = "en-US") -> StandardGuild:
    member_role = Role(MEMBER_ROLE_ID, "Storyboarders", 0, position=1)
    admin_role = Role(ADMIN_ROLE_ID, "Admins", Perm.MANAGE_GUILD, position=2)
    text = Channel(TEXT_CHANNEL_ID, "general")
    forum = Channel(FORUM_CHANNEL_ID, "videos", type=ChannelType.GUILD_FORUM, position=1)
    alice = Member(ALICE_ID, "alice", roles=[MEMBER_ROLE_ID], global_name="Alice")
    bob = Member(BOB_ID, "bob", global_name="Bob", locale="zh-CN")
    admin = Member(ADMIN_ID, "admin", roles=[ADMIN_ROLE_ID])
    guild = fd.add_guild(
        GUILD_ID,
        name="Storyboard Test Guild",
        channels=[text, forum],
        roles=[member_role, admin_role],
        members=[alice, bob, admin],
        preferred_locale=locale,
    )
    return StandardGuild(guild, text, forum, member_role, admin_role, alice, bob, admin)
