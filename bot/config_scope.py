"""Which problems in a config file belong to one guild's section.

A server's managers may see what is wrong in their own `[guilds."<id>"]` section,
and only that: another guild's section, or the shared ones, are not theirs to read.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.config import ConfigIssue


def in_guild_section(issue: ConfigIssue, guild_id: int) -> bool:
    """Whether `issue` names a field of `guild_id`'s own section."""
    own = f"guilds.{guild_id}"
    return issue.field == own or issue.field.startswith(own + ".")


def split_issues(
    issues: Iterable[ConfigIssue], guild_id: int
) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
    """(problems in this guild's section, problems anywhere else)."""
    own: list[ConfigIssue] = []
    elsewhere: list[ConfigIssue] = []
    for issue in issues:
        (own if in_guild_section(issue, guild_id) else elsewhere).append(issue)
    return own, elsewhere
