"""`/storyboard-admin`: the guild's effective settings (key masked), usage, open jobs, reload."""

from __future__ import annotations

import datetime as dt
import logging
import time

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.access import QuotaRule
from bot.bot import StoryboardBot
from bot.config import ConfigError, GuildSettings, load_config, mask_secret, shown_url
from bot.config_checks import needs_restart
from bot.config_scope import split_issues
from bot.errors import StoryboardError
from bot.i18n import pick_locale, t
from bot.invite import missing_permissions
from bot.logs import mask_more_secrets
from bot.store import Job
from bot.tracker import NOT_POSTED
from cogs.delivery_refused import not_posted_reason
from cogs.job_card import status_text
from cogs.replies import NO_MENTIONS, reply

log = logging.getLogger(__name__)
TOP_MEMBERS = 10
# How far back the admin view lists jobs whose outcome could not be posted.
UNDELIVERED_DAYS = 7


def _ids(values: frozenset[int], kind: str) -> tuple[str, ...] | str:
    """Mentions, as a list each language joins its own way; "-" for none."""
    return tuple(f"<{kind}{v}>" for v in sorted(values)) or "-"


def settings_lines(g: GuildSettings, locale: str, now: float) -> str:
    d = g.defaults
    unlimited = t("admin.unlimited", locale)
    # The next reset as a Discord timestamp: each admin reads it in their own time zone.
    reset = QuotaRule.of(g).next_reset(now)
    limits = [
        t("admin.limit_jobs", locale, value=g.daily_jobs_per_user or unlimited),
        t("admin.limit_seconds", locale, value=g.daily_seconds_per_guild or unlimited),
        t("admin.limit_cooldown", locale, value=f"{g.cooldown_seconds:g}"),
        t("admin.limit_reset", locale, when=f"<t:{reset}:t>"),
    ]
    return "\n".join(
        [
            *(
                [t("admin.sandbox", locale, seconds=f"{g.sandbox_seconds:g}")]
                if g.is_sandbox
                else [
                    t(
                        "admin.key",
                        locale,
                        key=mask_secret(g.api_key) if g.api_key else t("admin.no_key", locale),
                    ),
                    t(
                        "admin.provider",
                        locale,
                        profile=g.profile.name,
                        base_url=shown_url(g.base_url),
                    ),
                ]
            ),
            t(
                "admin.models",
                locale,
                models=g.models,
                lengths=g.allowed_seconds,
            ),
            t(
                "admin.defaults",
                locale,
                model=d.model,
                seconds=d.seconds,
                orientation=t(f"card.{d.orientation}", locale),
            ),
            t("admin.roles", locale, roles=_ids(g.allowed_role_ids, "@&")),
            t("admin.channels", locale, channels=_ids(g.allowed_channel_ids, "#")),
            t(
                "admin.draft_roles",
                locale,
                editors=_ids(g.draft_editor_roles, "@&"),
                submitters=_ids(g.draft_submit_roles, "@&"),
            ),
            " · ".join(limits),
        ]
    )


def permissions_here(have: discord.Permissions, locale: str) -> str:
    """The bot's own permissions in this channel (Discord sends them with the interaction):
    the missing ones by the names Discord's settings show."""
    missing = missing_permissions(have)
    if not missing:
        return t("admin_check.all_here", locale)
    names = tuple(t(f"perm.{name}", locale) for name in missing)
    return t("admin_check.missing_here", locale, permissions=names)


def undelivered_line(job: Job, locale: str) -> str:
    """One job whose outcome no channel took: where, whose, and why."""
    where = job.thread_id or job.card_channel_id or job.channel_id
    reason = not_posted_reason(job.delivery_error, locale)
    line = open_line(job, locale)
    return f"{line} · <#{where}> · {reason}"


def open_line(job: Job, locale: str) -> str:
    """One job in the admin view: its number, where it stands, whose, the task ID."""
    return t(
        "admin.open_line",
        locale,
        job=job.id,
        status=status_text(job, locale),
        member=f"<@{job.user_id}>",
        task_id=job.task_id or "-",
    )


def refusal_text(error: ConfigError, guild_id: int, locale: str) -> str:
    """Why a reload was refused, as this guild's managers may read it: their own section's
    problems in full; of anything else only that there is a problem (the log has it)."""
    own, elsewhere = split_issues(error.issues, guild_id)
    if not own:
        return t("admin.reload_refused_elsewhere", locale)
    problems = "\n".join(f"{i.field}: {i.message}" for i in own[:10])
    text = t("admin.reload_refused", locale) + f"\n```\n{problems[:1500]}\n```"
    if elsewhere:
        text += "\n" + t("admin.reload_also_elsewhere", locale)
    return text


def month_start(now: float) -> float:
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


class AdminCog(commands.Cog):
    admin = app_commands.Group(
        name="storyboard-admin",
        description=locale_str(
            "This server's Storyboard settings and usage",
            key="commands.storyboard-admin.description",
        ),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: StoryboardBot) -> None:
        self.bot = bot

    @staticmethod
    def _require_manager(interaction: discord.Interaction) -> None:
        # Default permissions can be changed by server admins; the bot checks again.
        if not interaction.permissions.manage_guild:
            raise StoryboardError("admin.manage_server_only")

    @admin.command(
        name="show",
        description=locale_str(
            "Effective settings (key masked), usage and videos in progress",
            key="commands.storyboard-admin.show.description",
        ),
    )
    async def show(self, interaction: discord.Interaction) -> None:
        self._require_manager(interaction)
        locale = pick_locale(str(interaction.locale))
        # The queries below are quick, but under load the 3 s must not depend on them.
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id or 0
        g = self.bot.config.guild(guild_id)
        now = time.time()
        store = self.bot.store
        day = await store.usage_by_member(guild_id, QuotaRule.of(g).day_start(now))
        month = await store.usage_by_member(guild_id, month_start(now))
        open_jobs = await store.open_jobs_of(guild_id)

        embed = discord.Embed(title=t("admin.title", locale), colour=discord.Colour.blurple())
        embed.add_field(
            name=t("admin.settings", locale),
            value=settings_lines(g, locale, now)[:1024],
            inline=False,
        )
        for label, rows in (("admin.today", day), ("admin.month", month)):
            jobs, seconds = sum(r[1] for r in rows), sum(r[2] for r in rows)
            top = "\n".join(
                t("admin.member_line", locale, member=f"<@{u}>", jobs=j, seconds=s)
                for u, j, s in rows[:TOP_MEMBERS]
            )
            value = t("admin.usage", locale, jobs=jobs, seconds=seconds) + (
                "\n" + top if top else ""
            )
            embed.add_field(name=t(label, locale), value=value[:1024], inline=False)
        lines = [open_line(j, locale) for j in open_jobs[:10]]
        embed.add_field(
            name=t("admin.open_jobs", locale, count=len(open_jobs)),
            value="\n".join(lines)[:1024] or "-",
            inline=False,
        )
        since = now - UNDELIVERED_DAYS * 86400
        undelivered = await store.undelivered_of(guild_id, NOT_POSTED, since)
        if undelivered:
            embed.add_field(
                name=t("admin_check.undelivered", locale, days=UNDELIVERED_DAYS),
                value="\n".join(undelivered_line(j, locale) for j in undelivered)[:1024],
                inline=False,
            )
        embed.add_field(
            name=t("admin_check.here", locale),
            value=permissions_here(interaction.app_permissions, locale)[:1024],
            inline=False,
        )
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @admin.command(
        name="reload",
        description=locale_str(
            "Re-read config.toml without a restart",
            key="commands.storyboard-admin.reload.description",
        ),
    )
    async def reload(self, interaction: discord.Interaction) -> None:
        self._require_manager(interaction)
        locale = pick_locale(str(interaction.locale))
        path = self.bot.config.path
        try:
            fresh = load_config(path)
        except ConfigError as error:
            log.warning("reload of %s refused:\n%s", path, error.describe())
            text = refusal_text(error, interaction.guild_id or 0, locale)
            await reply(interaction, text, locale=locale)
            return
        # Mask the new keys before anything can log them.
        mask_more_secrets(fresh.secrets())
        later = needs_restart(self.bot.config, fresh)
        self.bot.config = fresh
        log.info("config reloaded from %s by user=%s", path, interaction.user.id)
        text = t("admin.reloaded", locale, guilds=len(fresh.guilds))
        if later:
            # The names only in the log: these settings are the operator's, not a server's.
            log.warning("changed, applied at the next restart: %s", ", ".join(later))
            text += "\n" + t("admin_check.restart_needed", locale)
        await reply(interaction, text, locale=locale)


async def setup(bot: StoryboardBot) -> None:
    await bot.add_cog(AdminCog(bot))
