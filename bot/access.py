"""Who may use the bot where, and how much: checked before anything is sent or stored."""

from __future__ import annotations

import datetime as dt
import math

from pydantic import BaseModel, ConfigDict

from bot.config import GuildSettings
from bot.errors import StoryboardError


class Where(BaseModel):
    """The member and place of one interaction, as the Discord side sees them."""

    model_config = ConfigDict(frozen=True)

    guild_id: int | None
    channel_id: int | None
    # A thread's parent channel: allowing a channel allows its threads.
    parent_id: int | None = None
    role_ids: frozenset[int] = frozenset()
    # Manage Server: admins are never locked out of their own bot.
    is_admin: bool = False


def check_access(settings: GuildSettings, where: Where) -> None:
    if where.guild_id is None:
        if not settings.can_submit:
            raise StoryboardError("access.dm")
        return
    if where.is_admin:
        return
    if settings.allowed_role_ids and not where.role_ids & settings.allowed_role_ids:
        # A list: each language joins it its own way (`bot.i18n`).
        roles = tuple(f"<@&{r}>" for r in sorted(settings.allowed_role_ids))
        raise StoryboardError("access.role", roles=roles)
    places = {where.channel_id, where.parent_id}
    if settings.allowed_channel_ids and not places & settings.allowed_channel_ids:
        channels = tuple(f"<#{c}>" for c in sorted(settings.allowed_channel_ids))
        raise StoryboardError("access.channel", channels=channels)


class QuotaRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    daily_jobs_per_user: int | None = None
    daily_seconds_per_guild: int | None = None
    cooldown_seconds: float = 0.0
    reset_hour_utc: int = 0

    @classmethod
    def of(cls, settings: GuildSettings) -> QuotaRule:
        return cls(
            daily_jobs_per_user=settings.daily_jobs_per_user,
            daily_seconds_per_guild=settings.daily_seconds_per_guild,
            cooldown_seconds=settings.cooldown_seconds,
            reset_hour_utc=settings.quota_reset_hour_utc,
        )

    @property
    def limits_anything(self) -> bool:
        return bool(
            self.daily_jobs_per_user or self.daily_seconds_per_guild or self.cooldown_seconds
        )

    def day_start(self, now: float) -> float:
        """The last reset (at `reset_hour_utc`) at or before `now`."""
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        start = moment.replace(hour=self.reset_hour_utc, minute=0, second=0, microsecond=0)
        if start > moment:
            start -= dt.timedelta(days=1)
        return start.timestamp()

    def next_reset(self, now: float) -> int:
        return int(self.day_start(now) + 86400)


class Usage(BaseModel):
    """What a user and their guild used since the last reset, and the user's last job."""

    model_config = ConfigDict(frozen=True)

    user_jobs_today: int
    guild_seconds_today: int
    user_last_job_at: float | None


def cooldown_ends(rule: QuotaRule, usage: Usage, now: float) -> int | None:
    """When the member may start another video (a Unix time), or None when they may now."""
    if not rule.cooldown_seconds or usage.user_last_job_at is None:
        return None
    ends = usage.user_last_job_at + rule.cooldown_seconds
    return math.ceil(ends) if ends > now else None


def check_quota(rule: QuotaRule, usage: Usage, *, seconds: int, now: float) -> None:
    """Refuse with the limit that applies and when it lifts (a Discord timestamp).

    Members with Manage Server are held to it too: only access rules spare them. Checked
    before the /storyboard form opens and again, under the store's lock, at submit.
    """
    ends = cooldown_ends(rule, usage, now)
    if ends is not None and usage.user_last_job_at is not None:
        wait = math.ceil(usage.user_last_job_at + rule.cooldown_seconds - now)
        raise StoryboardError("quota.cooldown", wait=wait, until=f"<t:{ends}:R>")
    resets = f"<t:{rule.next_reset(now)}:R>"
    if rule.daily_jobs_per_user is not None and usage.user_jobs_today >= rule.daily_jobs_per_user:
        raise StoryboardError("quota.user_jobs", limit=rule.daily_jobs_per_user, resets=resets)
    limit = rule.daily_seconds_per_guild
    if limit is not None and usage.guild_seconds_today + seconds > limit:
        raise StoryboardError(
            "quota.guild_seconds",
            used=usage.guild_seconds_today,
            limit=limit,
            seconds=seconds,
            resets=resets,
        )
