"""Settings that load but are likely wrong: warnings for `check-config` and the start.

Not errors: a placeholder left from the example or a key sent over plain http still
lets the bot start (a test relay on a private network may well be http), but an admin
should see them before members do.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from bot.config import Config, shown_url

# Values `config.example.toml` ships with, to be replaced (a test reads them from the file).
EXAMPLE_KEYS = frozenset({"sk-replace-with-this-guilds-key", "sk-the-old-key"})
EXAMPLE_TOKENS = frozenset({"paste-the-bot-token-here"})
# RFC 2606 names: no real provider lives there.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org", "example", "invalid")


def is_example_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return any(host == d or host.endswith("." + d) for d in EXAMPLE_DOMAINS)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_warnings(config: Config) -> list[str]:
    """What an admin should fix, one line each, naming the file and the setting."""
    out: list[str] = []
    path = config.path
    if config.discord_token is not None and (
        config.discord_token.get_secret_value() in EXAMPLE_TOKENS
    ):
        out.append(f"{path}: discord.token: still the example's placeholder; paste the bot token")
    if config.file.provider.base_url is not None and is_example_host(config.file.provider.base_url):
        out.append(
            f"{path}: provider.base_url: {shown_url(config.file.provider.base_url)} is the example's"
            " placeholder; put your provider's URL"
        )
    for gid, g in config.guilds.items():
        section = config.file.guilds[gid]
        where = f"guilds.{gid}"
        if g.api_key is not None and g.api_key.get_secret_value() in EXAMPLE_KEYS:
            out.append(
                f"{path}: {where}.api_key: still the example's placeholder; put this server's key"
            )
        if any(k.get_secret_value() in EXAMPLE_KEYS for k in g.previous_api_keys):
            out.append(
                f"{path}: {where}.previous_api_keys: still the example's placeholder;"
                " list only keys this server really used"
            )
        if section.base_url is not None and is_example_host(section.base_url):
            out.append(
                f"{path}: {where}.base_url: {shown_url(section.base_url)} is the example's placeholder;"
                " put your provider's URL"
            )
        if (
            g.api_key is not None
            and not g.is_sandbox
            and g.base_url.startswith("http://")
            and not _is_loopback(g.base_url)
        ):
            field = f"{where}.base_url" if section.base_url is not None else "provider.base_url"
            out.append(
                f"{path}: {field}: {shown_url(g.base_url)} is plain http: guild {gid}'s key would travel"
                " in clear; use https://"
            )
    shards = config.shards
    if config.storage_url is None and shards is not None and len(shards.ids) < shards.count:
        # SQLite's pacer and `exclusive` live in the process (docs/scaling.md): only
        # PostgreSQL shares a key's ceiling and the IDENTIFY turns across processes.
        out.append(
            f"{path}: discord.shard_ids: this process runs {shards.describe()}, so others run"
            " the rest, but over an SQLite file each process keeps a key's"
            " max_requests_per_second and Discord's connect turns to itself: use [storage] url"
            " (PostgreSQL) for several processes"
        )
    return out


# Read once at start, so `/storyboard-admin reload` can't apply them (the README lists
# these; a test checks it does).
RESTART_ONLY = (
    "discord.token",
    "discord.dev_guild_ids",
    # The gateway's shards are chosen at login, and the tracker loads their jobs once.
    "discord.shard_count",
    "discord.shard_ids",
    "storage.path",
    "storage.url",
    "ops.listen",
    "ops.log_format",
    # The transcoder's slots and queue are made once, with the bot.
    "media.transcode_slots",
    "media.transcode_queue",
)


def needs_restart(running: Config, fresh: Config) -> list[str]:
    """The settings of `RESTART_ONLY` that `fresh` changes: they stay as they are until then."""
    values = {
        "discord.token": lambda c: c.discord_token,
        "discord.dev_guild_ids": lambda c: c.dev_guild_ids,
        "discord.shard_count": lambda c: c.shards and c.shards.count,
        "discord.shard_ids": lambda c: c.shards and c.shards.ids,
        "storage.path": lambda c: c.storage_path,
        "storage.url": lambda c: c.storage_url,
        "ops.listen": lambda c: c.file.ops.listen,
        "ops.log_format": lambda c: c.file.ops.log_format,
        "media.transcode_slots": lambda c: c.file.media.transcode_slots,
        "media.transcode_queue": lambda c: c.file.media.transcode_queue,
    }
    return [name for name in RESTART_ONLY if values[name](running) != values[name](fresh)]
