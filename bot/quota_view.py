"""The limits a member can see: what is left today, when it resets, when the cooldown ends.

The numbers come from the same store queries the quota check and the admin view use
(`Store.usage_now`, counting only `bot.store.COUNTED` jobs), so `/video quota`, the
refusal and `/storyboard-admin show` never disagree. Nothing here knows Discord: the
cogs turn a `QuotaStatus` into a reply with `quota_text` and `left_today`.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from bot.access import QuotaRule, check_quota, cooldown_ends
from bot.bot import StoryboardBot
from bot.i18n import t


class QuotaStatus(BaseModel):
    """One member's standing in one guild (or in direct messages) at one moment."""

    model_config = ConfigDict(frozen=True)

    rule: QuotaRule
    jobs_used: int
    seconds_used: int
    resets_at: int
    cooldown_ends_at: int | None
    running: int

    @property
    def jobs_left(self) -> int | None:
        limit = self.rule.daily_jobs_per_user
        return None if limit is None else max(0, limit - self.jobs_used)

    @property
    def seconds_left(self) -> int | None:
        limit = self.rule.daily_seconds_per_guild
        return None if limit is None else max(0, limit - self.seconds_used)


async def quota_status(
    bot: StoryboardBot, guild_id: int | None, user_id: int, *, now: float | None = None
) -> QuotaStatus:
    now = time.time() if now is None else now
    rule = QuotaRule.of(bot.config.settings_for(guild_id))
    usage = await bot.store.usage_now(guild_id, user_id, rule.day_start(now))
    running = 0
    if guild_id is not None:
        # Jobs the bot still follows: at the provider, or a create still being looked for.
        running = sum(1 for j in await bot.store.open_jobs_of(guild_id) if j.user_id == user_id)
    return QuotaStatus(
        rule=rule,
        jobs_used=usage.user_jobs_today,
        seconds_used=usage.guild_seconds_today,
        resets_at=rule.next_reset(now),
        cooldown_ends_at=cooldown_ends(rule, usage, now),
        running=running,
    )


async def check_before_form(
    bot: StoryboardBot, guild_id: int | None, user_id: int, *, seconds: int
) -> None:
    """Raise the quota refusal (`StoryboardError`) before the member types a storyboard.

    The same rule as at submit, where `Store.create_job` checks again under its lock:
    this early answer saves typing, the later one is what holds.
    """
    rule = QuotaRule.of(bot.config.settings_for(guild_id))
    if not rule.limits_anything:
        return
    now = time.time()
    usage = await bot.store.usage_now(guild_id, user_id, rule.day_start(now))
    check_quota(rule, usage, seconds=seconds, now=now)


def _stamp(moment: int) -> str:
    return f"<t:{moment}:R>"


def quota_text(status: QuotaStatus, locale: str) -> str:
    """The `/video quota` answer: one line per limit, "no limit" where none is set."""
    rule = status.rule
    resets = _stamp(status.resets_at)
    lines = [f"**{t('quota.title', locale)}**"]
    if status.jobs_left is None:
        lines.append(t("quota.videos_unlimited", locale))
    else:
        lines.append(
            t(
                "quota.videos_left",
                locale,
                left=status.jobs_left,
                limit=rule.daily_jobs_per_user,
                resets=resets,
            )
        )
    if status.seconds_left is None:
        lines.append(t("quota.seconds_unlimited", locale))
    else:
        lines.append(
            t(
                "quota.seconds_left",
                locale,
                left=status.seconds_left,
                limit=rule.daily_seconds_per_guild,
                resets=resets,
            )
        )
    cooldown = f"{rule.cooldown_seconds:g}"
    if not rule.cooldown_seconds:
        lines.append(t("quota.cooldown_none", locale))
    elif status.cooldown_ends_at is None:
        lines.append(t("quota.cooldown_ready", locale, seconds=cooldown))
    else:
        lines.append(
            t(
                "quota.cooldown_until",
                locale,
                seconds=cooldown,
                until=_stamp(status.cooldown_ends_at),
            )
        )
    lines.append(t("quota.running", locale, count=status.running))
    return "\n".join(lines)


def left_today(status: QuotaStatus, locale: str) -> str | None:
    """ "2 of 5 videos left for you today." where the guild limits videos per member."""
    if status.jobs_left is None:
        return None
    return t(
        "quota.left_today", locale, left=status.jobs_left, limit=status.rule.daily_jobs_per_user
    )


async def left_today_text(
    bot: StoryboardBot, guild_id: int | None, user_id: int, locale: str
) -> str | None:
    """The sentence the submit confirmation ends with, or None (no per-member limit)."""
    if QuotaRule.of(bot.config.settings_for(guild_id)).daily_jobs_per_user is None:
        return None
    return left_today(await quota_status(bot, guild_id, user_id), locale)


async def with_left_today(
    bot: StoryboardBot, guild_id: int | None, user_id: int, locale: str, text: str
) -> str:
    """`text`, followed by what is left today where that applies (see `left_today_text`)."""
    left = await left_today_text(bot, guild_id, user_id, locale)
    if not left:
        return text
    # Chinese runs sentences together after a full-width stop; English puts a space.
    return text + ("" if text.endswith(("。", "！", "？")) else " ") + left
