"""`config.toml`: one bot, many guilds, each with its own key.

Read with tomllib into pydantic models, then checked as a whole (a guild's
`seconds` against its own provider profile, say). Every problem names the file
and the field, and all problems are reported at once, so an admin fixes the
file in one pass. `[defaults]` and `[guilds."<id>"]` resolve into one frozen
`GuildSettings` per guild; a guild's key is only ever in its own settings.
"""

from __future__ import annotations

import copy
import difflib
import importlib.util
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    ValidationError,
    field_validator,
)
from yarl import URL

from bot.profiles import Orientation, ProfileName, ProviderProfile, get_profile
from bot.shards import Shards

Snowflake = Annotated[int, Field(gt=0)]
# A Discord modal holds at most 5 fields: 4 shots and the image upload.
MAX_MODAL_SHOTS = 4


class _Section(BaseModel):
    # Strict: `max_mb = true` or `timeout_seconds = "30"` is a mistake to name, not to
    # coerce (lax pydantic reads them as 1 and 30). An int still fills a float field.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _list_to_tuple(value: object) -> object:
    """TOML has arrays, not tuples; strict mode would refuse every array for a tuple."""
    return tuple(value) if isinstance(value, list) else value


# A guild's table name is a string in TOML ("123..."); strict mode would refuse every one.
GuildId = Annotated[int, Strict(False), Field(gt=0)]


def _clean_base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


class DiscordSection(_Section):
    # Optional here because DISCORD_TOKEN may carry it instead.
    token: SecretStr | None = None
    dev_guild_ids: list[Snowflake] = Field(default_factory=list)
    # Sharding (docs/scaling.md): how many shards the whole bot runs, and which of them
    # this process runs (all of them when only the count is set). The environment's
    # STORYBOARD_SHARD_COUNT and STORYBOARD_SHARD_IDS win, so one image serves every process.
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: list[Annotated[int, Field(ge=0)]] | None = None


class ProviderSection(_Section):
    # Required by every profile but "sandbox", which sends nothing anywhere.
    base_url: str | None = None
    profile: ProfileName = "relay"
    # "sandbox": how long a job takes from queued to completed, in seconds.
    sandbox_seconds: float = Field(default=20.0, gt=0, le=3600)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    max_requests_per_second: float = Field(default=2.0, gt=0, le=100)
    models: list[str] = Field(default_factory=lambda: ["sora-2", "sora-2-pro"], min_length=1)
    # A key for direct messages only (no guild); without one, DMs are refused.
    dm_api_key: SecretStr | None = None
    dm_api_key_env: str | None = None
    # Fit reference images to the video's exact size (unset: as the profile says;
    # openai does). For a relay that forwards to a provider refusing other sizes.
    image_exact_size: bool | None = None

    _base_url = field_validator("base_url")(_clean_base_url)


class DefaultsSection(_Section):
    model: str = "sora-2"
    seconds: int = 15
    orientation: Orientation = "landscape"
    watermark: bool = False
    private: bool = False
    # How many shot fields /storyboard's form shows when the member does not say.
    default_shots: int = Field(default=3, ge=1, le=MAX_MODAL_SHOTS)


class ImagesSection(_Section):
    max_mb: float = Field(default=10.0, gt=0, le=100)
    # Refused above this many pixels, before decoding. At most Pillow's own bomb limit
    # (89.4 MP), which refuses larger images before this check can name their size.
    max_pixels: int = Field(default=40_000_000, ge=1_000_000, le=89_000_000)
    # How an image is brought to the video's exact size where the provider needs that:
    # "crop" fills the frame (centred, edges cut); "pad" shows it whole on a fill.
    fit: Literal["crop", "pad"] = "crop"
    pad_fill: Literal["blur", "black"] = "blur"


class MediaSection(_Section):
    """`[media]`: fitting finished videos under a member's upload limit (`bot.video_fit`)."""

    # Transcodes at once: each takes about a core for about the video's length.
    transcode_slots: int = Field(default=1, ge=1, le=16)
    # Deliveries that may wait for a slot; more are tried again later, so the tracker's
    # workers stay free to follow other jobs.
    transcode_queue: int = Field(default=4, ge=0, le=64)


class TrackingSection(_Section):
    # Polling starts near the provider's hint (or the minimum) and slows for long jobs.
    poll_min_seconds: float = Field(default=5.0, gt=0, le=600)
    poll_max_seconds: float = Field(default=60.0, gt=0, le=3600)
    # A job still open after this long is marked expired and the member told.
    max_job_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    # Largest video the bot downloads at all; Discord's per-interaction limit decides file or link.
    max_download_mb: float = Field(default=500.0, gt=0, le=4096)
    # A paid job is never abandoned before this: a create whose answer was lost is looked
    # up, and an expired job looked at slowly, until this many hours after it was made.
    resolve_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    # Waits between looks for a create whose answer was lost; the last repeats.
    resolve_delays_seconds: Annotated[tuple[float, ...], BeforeValidator(_list_to_tuple)] = Field(
        default=(10.0, 30.0, 60.0, 120.0, 300.0, 600.0), min_length=1
    )
    # After expiry, how often to look whether the video finished after all.
    late_poll_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    # A task the provider says it does not know is "lost" only after 404s for this long
    # (a key rotation or a relay hiccup answers 404 for a while).
    lost_after_minutes: float = Field(default=15.0, ge=0, le=24 * 60)
    # Delivery that keeps failing for a passing reason (Discord or the provider down)
    # is retried with backoff up to this cap, and given up with a notice after this long.
    delivery_retry_seconds: float = Field(default=60.0, gt=0, le=3600)
    # A delivery is claimed for this long and renewed while it runs: a process killed
    # mid-upload holds its job no longer than this before another (or itself, restarted)
    # delivers it, checking the thread first. A create in flight is held the same way:
    # another process leaves its pending job alone meanwhile.
    delivery_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    # Every this often the tracker looks in the store for open jobs of its shards that it
    # does not follow: one made by a rolling deploy's other process as it stopped, say.
    rescan_seconds: float = Field(default=60.0, gt=0, le=3600)
    delivery_retry_max_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    delivery_give_up_hours: float = Field(default=6.0, gt=0, le=24 * 14)

    @field_validator("resolve_delays_seconds")
    @classmethod
    def _delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(d <= 0 for d in value):
            raise ValueError("every delay must be more than 0 seconds")
        return value


class StorageSection(_Section):
    """`[storage]`: an SQLite file (`path`, the default), or PostgreSQL for several
    processes (`url`, or `url_env` naming the variable that holds one with a password)."""

    path: Annotated[Path, Strict(False)] = Path("storyboard.sqlite3")
    url: SecretStr | None = None
    url_env: str | None = None


class OpsSection(_Section):
    """`[ops]`: the health and metrics endpoint (off unless `listen` is set), log format."""

    listen: str | None = None
    log_format: Literal["text", "json"] = "text"

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, port = cls.split_listen(value)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @staticmethod
    def split_listen(value: str) -> tuple[str, int]:
        """`host:port` (`[v6]:port` for IPv6) as (host, port); ValueError says what is wrong."""
        head, sep, tail = value.strip().rpartition(":")
        if not sep or not head:
            raise ValueError('must be host:port, like "127.0.0.1:9100"')
        # Port 0: any free port, which the log line then names (for tests, and for a
        # host that scrapes whatever port it is told).
        if not (tail.isascii() and tail.isdigit()) or not 0 <= int(tail) <= 65535:
            raise ValueError(f"port {tail!r} is not a number from 0 to 65535")
        if head.startswith("[") and head.endswith("]"):
            host = head[1:-1]
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise ValueError(f"{host!r} is not an IPv6 address") from None
        elif ":" in head:
            raise ValueError('put an IPv6 address in brackets, like "[::1]:9100"')
        elif re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", head):
            host = head
        else:
            raise ValueError(f"{head!r} is not an IP address or host name")
        return host, int(tail)


# The languages the bot has catalogues for (`bot/locales/`).
Locale = Literal["en-US", "zh-CN", "zh-TW"]


class GuildSection(_Section):
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    # Keys this guild used before a rotation: never used to create, only to keep following
    # the jobs they made (the provider shows a task only to the key that made it).
    previous_api_keys: list[SecretStr] = Field(default_factory=list)
    base_url: str | None = None
    profile: ProfileName | None = None
    sandbox_seconds: float | None = Field(default=None, gt=0, le=3600)
    image_exact_size: bool | None = None
    models: list[str] | None = Field(default=None, min_length=1)
    max_seconds: int | None = Field(default=None, gt=0)
    model: str | None = None
    seconds: int | None = None
    orientation: Orientation | None = None
    watermark: bool | None = None
    private: bool | None = None
    default_shots: int | None = Field(default=None, ge=1, le=MAX_MODAL_SHOTS)
    # Drafts: roles that may edit anyone's shots / submit and discard; archive after N idle days.
    draft_editor_roles: list[Snowflake] = Field(default_factory=list)
    draft_submit_roles: list[Snowflake] = Field(default_factory=list)
    draft_ttl_days: float = Field(default=30.0, gt=0)
    # Who may use the bot where (empty: everyone, everywhere).
    allowed_role_ids: list[Snowflake] = Field(default_factory=list)
    allowed_channel_ids: list[Snowflake] = Field(default_factory=list)
    # Spend control; unset means no limit. Days start at `quota_reset_hour_utc`.
    daily_jobs_per_user: int | None = Field(default=None, ge=1)
    daily_seconds_per_guild: int | None = Field(default=None, ge=1)
    cooldown_seconds: float = Field(default=0.0, ge=0)
    quota_reset_hour_utc: int = Field(default=0, ge=0, le=23)
    # The language of what everyone in the server reads (cards, threads, deliveries, draft
    # panels); unset: the server's Discord "preferred locale", else en-US. Replies only
    # one member sees are always in that member's own Discord language.
    locale: Locale | None = None

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else _clean_base_url(value)


class ConfigFile(_Section):
    """The file as written, before defaults are applied to each guild."""

    discord: DiscordSection = Field(default_factory=DiscordSection)
    provider: ProviderSection
    defaults: DefaultsSection = Field(default_factory=DefaultsSection)
    images: ImagesSection = Field(default_factory=ImagesSection)
    media: MediaSection = Field(default_factory=MediaSection)
    tracking: TrackingSection = Field(default_factory=TrackingSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    ops: OpsSection = Field(default_factory=OpsSection)
    guilds: dict[GuildId, GuildSection] = Field(default_factory=dict)


class GuildSettings(BaseModel):
    """Everything that applies to one guild, resolved. Its key is its own."""

    model_config = ConfigDict(frozen=True)

    guild_id: int | None
    api_key: SecretStr | None
    base_url: str
    previous_api_keys: tuple[SecretStr, ...] = ()
    profile: ProviderProfile
    models: tuple[str, ...]
    max_seconds: int | None
    defaults: DefaultsSection
    timeout_seconds: float
    max_requests_per_second: float
    image_max_bytes: int
    image_max_pixels: int = 40_000_000
    image_fit: Literal["crop", "pad"] = "crop"
    image_pad_fill: Literal["blur", "black"] = "blur"
    draft_editor_roles: frozenset[int] = frozenset()
    draft_submit_roles: frozenset[int] = frozenset()
    draft_ttl_days: float = 30.0
    allowed_role_ids: frozenset[int] = frozenset()
    allowed_channel_ids: frozenset[int] = frozenset()
    daily_jobs_per_user: int | None = None
    daily_seconds_per_guild: int | None = None
    cooldown_seconds: float = 0.0
    quota_reset_hour_utc: int = 0
    locale: Locale | None = None
    sandbox_seconds: float = 20.0

    @property
    def is_sandbox(self) -> bool:
        """No provider: jobs are made in-process and the video is the animatic."""
        return self.profile.name == "sandbox"

    @property
    def can_submit(self) -> bool:
        return self.api_key is not None or self.is_sandbox

    @property
    def allowed_seconds(self) -> tuple[int, ...]:
        limit = self.max_seconds
        return tuple(s for s in self.profile.allowed_seconds if limit is None or s <= limit)


class Config(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    discord_token: SecretStr | None
    dev_guild_ids: tuple[int, ...]
    storage_path: Path
    file: ConfigFile
    guilds: dict[int, GuildSettings]

    dm_key: SecretStr | None = None
    # PostgreSQL (`[storage] url` / `url_env`); None: the SQLite file at `storage_path`.
    storage_url: SecretStr | None = None

    @property
    def storage_shown(self) -> str:
        """Where the data lives, as printed for an admin (no password)."""
        if self.storage_url is not None:
            return shown_url(self.storage_url.get_secret_value())
        return str(self.storage_path)

    # The shards this process runs; None: no sharding, one gateway connection.
    shards: Shards | None = None

    def guild(self, guild_id: int) -> GuildSettings:
        """The settings for `guild_id`; a guild not in the file has no key."""
        found = self.guilds.get(guild_id)
        return found if found is not None else _resolve(self.file, guild_id, None, None)

    def settings_for(self, guild_id: int | None) -> GuildSettings:
        """A guild's settings, or for a direct message (no guild) the DM key's."""
        if guild_id is None:
            return _resolve(self.file, None, None, self.dm_key)
        return self.guild(guild_id)

    def secrets(self) -> list[str]:
        """Every secret this config holds, for log masking and leak checks."""
        values = [g.api_key.get_secret_value() for g in self.guilds.values() if g.api_key]
        values += [k.get_secret_value() for g in self.guilds.values() for k in g.previous_api_keys]
        if self.dm_key is not None:
            values.append(self.dm_key.get_secret_value())
        if self.discord_token is not None:
            values.append(self.discord_token.get_secret_value())
        if self.storage_url is not None:
            values.append(URL(self.storage_url.get_secret_value()).password or "")
        return [v for v in values if v]


class ConfigIssue(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class ConfigError(Exception):
    """The file can't be used; `issues` names every bad field."""

    def __init__(self, path: Path, issues: list[ConfigIssue]) -> None:
        self.path = path
        self.issues = issues
        super().__init__(self.describe())

    def describe(self) -> str:
        return "\n".join(f"{self.path}: {i.field}: {i.message}" for i in self.issues)


def _resolve(
    file: ConfigFile, guild_id: int | None, section: GuildSection | None, key: SecretStr | None
) -> GuildSettings:
    g = section or GuildSection()
    base = file.defaults
    overrides = {
        name: getattr(g, name)
        for name in ("model", "seconds", "orientation", "watermark", "private", "default_shots")
        if getattr(g, name) is not None
    }
    profile = get_profile(g.profile or file.provider.profile)
    exact = g.image_exact_size
    if exact is None:
        exact = file.provider.image_exact_size
    if exact is not None and exact != profile.image_exact_size:
        profile = profile.model_copy(update={"image_exact_size": exact})
    return GuildSettings(
        guild_id=guild_id,
        api_key=key,
        previous_api_keys=tuple(g.previous_api_keys),
        base_url=g.base_url or file.provider.base_url or "",
        profile=profile,
        models=tuple(g.models or file.provider.models),
        max_seconds=g.max_seconds,
        defaults=base.model_copy(update=overrides),
        timeout_seconds=file.provider.timeout_seconds,
        max_requests_per_second=file.provider.max_requests_per_second,
        image_max_bytes=int(file.images.max_mb * 1024 * 1024),
        image_max_pixels=file.images.max_pixels,
        image_fit=file.images.fit,
        image_pad_fill=file.images.pad_fill,
        draft_editor_roles=frozenset(g.draft_editor_roles),
        draft_submit_roles=frozenset(g.draft_submit_roles),
        draft_ttl_days=g.draft_ttl_days,
        allowed_role_ids=frozenset(g.allowed_role_ids),
        allowed_channel_ids=frozenset(g.allowed_channel_ids),
        daily_jobs_per_user=g.daily_jobs_per_user,
        daily_seconds_per_guild=g.daily_seconds_per_guild,
        cooldown_seconds=g.cooldown_seconds,
        quota_reset_hour_utc=g.quota_reset_hour_utc,
        locale=g.locale,
        sandbox_seconds=g.sandbox_seconds or file.provider.sandbox_seconds,
    )


def _guild_key(
    gid: int, section: GuildSection, env: Mapping[str, str], issues: list[ConfigIssue]
) -> SecretStr | None:
    return _key_from(f"guilds.{gid}.api_key", section.api_key, section.api_key_env, env, issues)


def _key_from(
    field: str,
    key: SecretStr | None,
    env_name: str | None,
    env: Mapping[str, str],
    issues: list[ConfigIssue],
) -> SecretStr | None:
    """A key given in the file or named by an environment variable (not both)."""
    where, name = field.rsplit(".", 1)
    if key is not None and env_name is not None:
        issues.append(ConfigIssue(field=where, message=f"set {name} or {name}_env, not both"))
        return None
    if env_name is not None:
        value = env.get(env_name, "").strip()
        if not value:
            issues.append(
                ConfigIssue(
                    field=f"{field}_env", message=f"environment variable {env_name} is not set"
                )
            )
            return None
        return SecretStr(value)
    if key is not None and not key.get_secret_value().strip():
        issues.append(ConfigIssue(field=field, message="is empty"))
        return None
    return key


# A guild's section is checked against its profile when it sets one of these; otherwise
# it only repeats what [defaults] already said.
GUILD_CHECK_TRIGGERS = frozenset(
    {"model", "seconds", "models", "profile", "max_seconds", "watermark", "private"}
)


def _check_guild(where: str, settings: GuildSettings, issues: list[ConfigIssue]) -> None:
    if not settings.base_url and not settings.is_sandbox:
        issues.append(
            ConfigIssue(
                field="provider.base_url" if where == "defaults" else f"{where}.base_url",
                message=f"required by the {settings.profile.name} profile"
                ' (only profile = "sandbox" needs none)',
            )
        )
    allowed = settings.profile.allowed_seconds
    seconds = settings.defaults.seconds
    if seconds not in allowed:
        issues.append(
            ConfigIssue(
                field=f"{where}.seconds",
                message=f"{seconds} is not one of {', '.join(map(str, allowed))}"
                f" (profile {settings.profile.name})",
            )
        )
    elif settings.max_seconds is not None and seconds > settings.max_seconds:
        issues.append(
            ConfigIssue(
                field=f"{where}.seconds",
                message=f"{seconds} is over max_seconds {settings.max_seconds}",
            )
        )
    elif seconds in settings.profile.pro_only_seconds and not settings.profile.is_pro_model(
        settings.defaults.model
    ):
        issues.append(
            ConfigIssue(
                field=f"{where}.seconds",
                message=f"{seconds} needs a pro model, and the default model "
                f"{settings.defaults.model!r} is not one",
            )
        )
    if settings.defaults.model not in settings.models:
        issues.append(
            ConfigIssue(
                field=f"{where}.model",
                message=f"{settings.defaults.model!r} is not one of the allowed models "
                f"({', '.join(settings.models)})",
            )
        )
    if settings.profile.name == "openai":
        for option in ("watermark", "private"):
            if getattr(settings.defaults, option):
                issues.append(
                    ConfigIssue(
                        field=f"{where}.{option}",
                        message="the openai profile has no such field; leave it false",
                    )
                )


def _toml_value(value: object) -> str | None:
    """A short scalar as the admin wrote it in TOML, to quote back; None for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and len(value) <= 40:
        return json.dumps(value, ensure_ascii=False)
    return None


def _known_fields(loc: tuple[int | str, ...]) -> list[str]:
    """The setting names allowed where `loc`'s last part was found (for "did you mean")."""
    model: type[BaseModel] = ConfigFile
    for part in loc[:-1]:
        if model is ConfigFile and part == "guilds":
            model = GuildSection
            continue
        if model is GuildSection:  # the guild id in [guilds."<id>"]
            continue
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


# Pydantic's errors for a value of the wrong kind, where quoting it back helps.
_WRONG_TYPE = frozenset(
    {"bool_type", "bool_parsing", "int_type", "int_parsing", "int_from_float", "float_type"}
    | {"float_parsing", "string_type", "literal_error", "list_type", "tuple_type", "dict_type"}
)


def _issue_for(error: Any) -> ConfigIssue:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    field = ".".join(str(p) for p in loc if p != "[key]") or "(file)"
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown setting"
        close = difflib.get_close_matches(str(loc[-1]), _known_fields(loc), n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
    elif loc and loc[-1] == "[key]":
        message = 'a guild\'s table name must be its id, like [guilds."123456789012345678"]'
    elif error["type"] in _WRONG_TYPE and not any(
        "key" in str(p) or "token" in str(p) for p in loc
    ):
        given = _toml_value(error.get("input"))  # never a key's: it would be printed
        if given is not None:
            message += f" (the file says {given})"
    return ConfigIssue(field=field, message=message)


def _drop(data: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    """Remove the setting an error is about, so the rest can still be checked."""
    node: Any = data
    parts = [p for p in loc if p != "[key]"]
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or str(part) not in node:
            return False
        if i == len(parts) - 1 or not isinstance(node[str(part)], dict):
            del node[str(part)]
            return True
        node = node[str(part)]
    return False


def _validate(data: Mapping[str, object]) -> tuple[ConfigFile | None, list[ConfigIssue]]:
    """The file's model and every field-level problem. Bad settings are set aside and the
    rest validated again, so the checks across fields run too: an admin sees every
    problem in one pass, not the next batch after fixing the first."""
    remaining: dict[str, Any] = copy.deepcopy(dict(data))
    issues: list[ConfigIssue] = []
    dropped: set[tuple[int | str, ...]] = set()
    for _ in range(10):  # each round removes at least one setting, or stops
        try:
            return ConfigFile.model_validate(remaining), issues
        except ValidationError as exc:
            # A required setting set aside is now "missing": its own problem was said.
            errors = [e for e in exc.errors(include_url=False) if tuple(e["loc"]) not in dropped]
        issues += [_issue_for(e) for e in errors]
        removed = {tuple(e["loc"]) for e in errors if _drop(remaining, tuple(e["loc"]))}
        if not removed:
            break
        dropped |= removed
    return None, issues


def _independent(
    checks: list[ConfigIssue], field_issues: list[ConfigIssue], guilds: Mapping[int, object]
) -> list[ConfigIssue]:
    """The checks across fields that don't merely echo a bad field: a bad `profile` or
    `models` was set aside, and seconds checked against the default profile would mislead."""
    bad = {i.field for i in field_issues}
    unsure = {f.rpartition(".")[0] for f in bad if f.endswith((".profile", ".models"))}
    if "provider" in unsure:
        unsure |= {"defaults", *(f"guilds.{gid}" for gid in guilds)}
    return [i for i in checks if i.field not in bad and i.field.rpartition(".")[0] not in unsure]


def _storage_problem(path: Path) -> str | None:
    """Why the database can't be at `path`, seen before logging in to Discord."""
    if path.is_dir():
        return f"{path} is a directory; name a file in it, like {path / 'storyboard.sqlite3'}"
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a directory, so {path} can't be created"
            return None
    return None


def _database_url_problem(url: str) -> str | None:
    """Why `[storage] url` can't name a PostgreSQL database, seen before connecting."""
    if URL(url).scheme not in ("postgresql", "postgres"):
        return (
            "must be a PostgreSQL URL, like postgresql://storyboard@db.example:5432/storyboard"
            " (for an SQLite file, set path instead)"
        )
    if importlib.util.find_spec("asyncpg") is None:
        return "needs asyncpg: pip install 'storyboard-bot[postgres]'"
    return None


SHARD_COUNT_ENV = "STORYBOARD_SHARD_COUNT"
SHARD_IDS_ENV = "STORYBOARD_SHARD_IDS"


def _env_shard_count(env: Mapping[str, str], issues: list[ConfigIssue]) -> int | None:
    raw = env.get(SHARD_COUNT_ENV, "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
        issues.append(
            ConfigIssue(
                field="discord.shard_count",
                message=f"{SHARD_COUNT_ENV}={json.dumps(raw)} in the environment is not a"
                " whole number of 1 or more",
            )
        )
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _env_shard_ids(env: Mapping[str, str], issues: list[ConfigIssue]) -> list[int] | None:
    raw = env.get(SHARD_IDS_ENV, "").strip()
    if not raw:
        return None
    parts = [p.strip() for p in raw.split(",")]
    wrong = [p for p in parts if not (p.isascii() and p.isdigit())]
    if wrong:
        issues.append(
            ConfigIssue(
                field="discord.shard_ids",
                message=f"{SHARD_IDS_ENV}={json.dumps(raw)} in the environment: "
                f"{json.dumps(wrong[0])} is not a shard id; write whole numbers separated by"
                ' commas, like "0,1"',
            )
        )
        return None
    return [int(p) for p in parts]


def _shards(
    section: DiscordSection, env: Mapping[str, str], bad: set[str], issues: list[ConfigIssue]
) -> Shards | None:
    """The shards this process runs: the environment's settings over the file's; None
    when neither sets any (no sharding)."""
    found: list[ConfigIssue] = []
    count = _env_shard_count(env, found)
    count_from = f" (from {SHARD_COUNT_ENV})" if count is not None else ""
    if count is None and not found:
        count = section.shard_count
    ids = _env_shard_ids(env, found)
    ids_from = f" (from {SHARD_IDS_ENV})" if ids is not None else ""
    if ids is None and not found:
        ids = section.shard_ids
    if found or any(f.startswith(("discord.shard_count", "discord.shard_ids")) for f in bad):
        issues += found  # a bad setting was named; checking the pair would only echo it
        return None
    field = "discord.shard_ids"
    if ids is not None and count is None:
        issues.append(
            ConfigIssue(
                field=field,
                message=f"set without a shard count{ids_from}: set discord.shard_count (or"
                f" {SHARD_COUNT_ENV}) to how many shards the whole bot runs",
            )
        )
        return None
    if count is None:
        return None
    if ids is None:
        return Shards.all_of(count)
    if not ids:
        issues.append(
            ConfigIssue(field=field, message="is empty; leave it out to run every shard here")
        )
        return None
    size = f"{count}{count_from}"
    for i in ids:
        if i >= count:
            issues.append(
                ConfigIssue(
                    field=field,
                    message=f"{i}{ids_from} is not a shard of {size}: ids run from 0 to {count - 1}",
                )
            )
            return None
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        issues.append(ConfigIssue(field=field, message=f"{twice[0]}{ids_from} is listed twice"))
        return None
    return Shards(count=count, ids=tuple(ids))


def parse_config(
    data: Mapping[str, object], path: Path, env: Mapping[str, str] | None = None
) -> Config:
    """Build a `Config` from parsed TOML, or raise `ConfigError` naming every bad field."""
    env = os.environ if env is None else env
    file, field_issues = _validate(data)
    if file is None:
        raise ConfigError(path, field_issues)

    issues: list[ConfigIssue] = []
    token = file.discord.token
    if env.get("DISCORD_TOKEN", "").strip():
        token = SecretStr(env["DISCORD_TOKEN"].strip())

    defaults = _resolve(file, None, None, None)
    _check_guild("defaults", defaults, issues)
    dm_key = _key_from(
        "provider.dm_api_key", file.provider.dm_api_key, file.provider.dm_api_key_env, env, issues
    )
    guilds: dict[int, GuildSettings] = {}
    for gid, section in file.guilds.items():
        key = _guild_key(gid, section, env, issues)
        settings = _resolve(file, gid, section, key)
        if section.model_dump(exclude_unset=True).keys() & GUILD_CHECK_TRIGGERS:
            _check_guild(f"guilds.{gid}", settings, issues)
        guilds[gid] = settings

    storage = file.storage.path
    if not storage.is_absolute():
        storage = path.parent / storage
    storage_url = _key_from("storage.url", file.storage.url, file.storage.url_env, env, issues)
    if storage_url is not None:
        if (problem := _database_url_problem(storage_url.get_secret_value())) is not None:
            issues.append(ConfigIssue(field="storage.url", message=problem))
    elif (problem := _storage_problem(storage)) is not None:
        issues.append(ConfigIssue(field="storage.path", message=problem))
    shards = _shards(file.discord, env, {i.field for i in field_issues}, issues)
    if field_issues:
        issues = field_issues + _independent(issues, field_issues, guilds)
    if issues:
        raise ConfigError(path, issues)
    return Config(
        path=path,
        discord_token=token,
        dev_guild_ids=tuple(file.discord.dev_guild_ids),
        storage_path=storage,
        file=file,
        guilds=guilds,
        dm_key=dm_key,
        storage_url=storage_url,
        shards=shards,
    )


def _file_problem(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start});"
            " save it as UTF-8"
        )
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file; name the config file itself"
    if isinstance(exc, PermissionError):
        return "can't be read: permission denied; the user running the bot must be able to read it"
    return f"can't be read: {exc.strerror or exc}"


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and check `path`; raise `ConfigError` with every problem found."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [ConfigIssue(field="(file)", message=_file_problem(exc))]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            path, [ConfigIssue(field="(file)", message=f"not valid TOML: {exc}")]
        ) from None
    return parse_config(data, path, env)


def config_file_warnings(path: Path) -> list[str]:
    """Problems with the file itself that don't stop the bot but should be fixed."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if mode & 0o077:
        return [
            f"{path}: readable by other users (mode {mode & 0o777:o}); it holds API keys: "
            f"chmod 600 {path}"
        ]
    return []


def shown_url(url: str) -> str:
    """`url` as printed for an admin: a password or key put in its user part or query
    (`https://user:key@relay/v1`, `?key=...`) is not shown."""
    parsed = URL(url)
    if parsed.password is not None:
        parsed = parsed.with_password("****")
    if parsed.query_string:
        parsed = parsed.with_query(None).with_fragment(None)
        return f"{parsed}?****"
    return str(parsed)


def mask_secret(secret: SecretStr | str | None) -> str:
    """At most the last 4 characters of a secret, and none of a short one."""
    if secret is None:
        return "(none)"
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if len(value) < 12:
        return "****"
    return "****" + value[-4:]
