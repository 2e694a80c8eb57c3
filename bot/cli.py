"""`storyboard-bot`: run the bot, check a config file, render a storyboard, fetch a video."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from bot.config import (
    Config,
    ConfigError,
    GuildSettings,
    config_file_warnings,
    load_config,
    mask_secret,
    shown_url,
)
from bot.config_checks import config_warnings
from bot.errors import StoryboardError
from bot.fetch_video import FetchError, fetch_video
from bot.i18n import t
from bot.images import Fit, check_image
from bot.ping import PingResult, ping_guild
from bot.profiles import PROFILES, ProviderProfile
from bot.storyboard import Storyboard, StoryboardSettings, parse_prompt, validate_storyboard
from bot.videos_api import CreateVideoRequest, RetryPolicy, VideoApi

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storyboard-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the bot")
    run.add_argument("--config", type=Path, default=Path("config.toml"))
    run.add_argument("--sync", action="store_true", help="sync slash commands even if unchanged")
    run.add_argument(
        "--log-level", type=str.upper, choices=LOG_LEVELS, default="INFO", help="any case"
    )

    check = sub.add_parser("check-config", help="check a config file without starting the bot")
    check.add_argument("path", type=Path)
    check.add_argument(
        "--ping", action="store_true", help="call the provider with each guild's key"
    )

    invite = sub.add_parser("invite", help="print the link that adds the bot to a server")
    invite.add_argument("--config", type=Path, default=Path("config.toml"))
    invite.add_argument(
        "--client-id", type=int, help="the application id (otherwise fetched with the token)"
    )

    render = sub.add_parser(
        "render",
        help="read a storyboard on stdin (provider format or one scene per line), print the prompt",
    )
    render.add_argument("--seconds", type=int)
    render.add_argument("--model", default="sora-2")
    render.add_argument("--orientation", choices=["landscape", "portrait"], default="landscape")
    render.add_argument("--profile", choices=sorted(PROFILES), default="relay")
    render.add_argument("--image", type=Path, help="a reference image to check and include")
    render.add_argument("--request", action="store_true", help="print the form fields instead")
    render.add_argument("--lang", default="en-US", help="language of error messages")

    fetch = sub.add_parser(
        "fetch-video",
        help="download a finished job's original video with its guild's key (a member got a"
        " copy compressed to fit the upload limit)",
    )
    fetch.add_argument("job", help="the job's number (12 or #12) or the provider's task id")
    fetch.add_argument("--out", type=Path, required=True, help="where to write the MP4")
    fetch.add_argument("--config", type=Path, default=Path("config.toml"))
    return parser


def _describe_guild(label: str, g: GuildSettings) -> str:
    d = g.defaults
    key = mask_secret(g.api_key) if g.api_key else "(none: cannot submit)"
    if g.is_sandbox:
        key = "(none needed)"
        where = f"profile sandbox (no provider; a job takes {g.sandbox_seconds:g} s)"
    else:
        where = f"profile {g.profile.name} at {shown_url(g.base_url)}"
    return (
        f"{label}: key {key}; "
        f"{where}; models {', '.join(g.models)}; "
        f"lengths {', '.join(map(str, g.allowed_seconds))} s; "
        f"defaults {d.model}, {d.seconds} s, {d.orientation}, "
        f"watermark {'on' if d.watermark else 'off'}, private {'on' if d.private else 'off'}"
    )


def _summary(config: Config) -> list[str]:
    f = config.file
    token = mask_secret(config.discord_token) if config.discord_token else None
    lines = [
        f"{config.path}: OK",
        f"discord: token {token or '(missing: set [discord] token or DISCORD_TOKEN)'}; "
        f"dev guilds {', '.join(map(str, config.dev_guild_ids)) or '(none: global sync)'}",
        f"provider: timeout {f.provider.timeout_seconds:g} s, "
        f"{f.provider.max_requests_per_second:g} requests/s per key",
        f"images: at most {f.images.max_mb:g} MB and {f.images.max_pixels:,} pixels; "
        f"fitted by {f.images.fit} where the profile needs the video's size",
        f"storage: {config.storage_shown}",
        _describe_guild("servers not listed", config.guild(0)),
    ]
    lines += [_describe_guild(f"guild {gid}", g) for gid, g in config.guilds.items()]
    if not config.guilds:
        lines.append("no guilds configured: no server can submit jobs yet")
    return lines


async def _ping_all(config: Config) -> list[PingResult]:
    # One try per request: retries would print warnings and keep the admin waiting.
    async with aiohttp.ClientSession() as session:
        api = VideoApi(session, retry=RetryPolicy(attempts=1))
        return [await ping_guild(api, f"guild {gid}", g) for gid, g in config.guilds.items()]


def _check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.path)
    except ConfigError as exc:
        print(exc.describe(), file=sys.stderr)
        return 1
    for line in _summary(config):
        print(line)
    for warning in config_file_warnings(args.path) + config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    if args.ping:
        results = asyncio.run(_ping_all(config))
        for result in results:
            print(result.text, file=sys.stdout if result.ok else sys.stderr)
        return 0 if all(r.ok for r in results) else 1
    return 0


def _read_image(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise StoryboardError("cli.image_missing", path=str(path)) from None
    except OSError as exc:
        raise StoryboardError(
            "cli.image_unreadable", path=str(path), reason=exc.strerror or str(exc)
        ) from None


def _render(args: argparse.Namespace) -> int:
    profile: ProviderProfile = PROFILES[args.profile]
    try:
        shots = parse_prompt(sys.stdin.read())
        seconds = args.seconds
        if seconds is None:
            timed = [s.duration for s in shots]
            seconds = (
                sum(d for d in timed if d)
                if shots and None not in timed
                else profile.allowed_seconds[1]
            )
        board = Storyboard(
            shots=tuple(shots),
            settings=StoryboardSettings(
                model=args.model, seconds=seconds, orientation=args.orientation
            ),
        )
        valid = validate_storyboard(board, profile, models=[args.model])
        image = None
        if args.image is not None:
            fit = Fit.of(valid.size) if profile.image_exact_size else None
            image = check_image(
                _read_image(args.image), args.image.name, max_bytes=10 * 1048576, fit=fit
            )
    except StoryboardError as exc:
        print(f"error: {t(exc.key, args.lang, **exc.fields)}", file=sys.stderr)
        return 1
    if not args.request:
        print(valid.prompt)
        return 0
    request = CreateVideoRequest.from_storyboard(valid, profile, image=image)
    fields: dict[str, object] = dict(request.form_fields(profile))
    if image is not None:
        fields["input_reference"] = {
            "filename": image.filename,
            "content_type": image.content_type,
            "bytes": len(image.data),
        }
    print(json.dumps(fields, indent=2, ensure_ascii=False))
    return 0


def _fetch_video(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc.describe(), file=sys.stderr)
        return 1
    try:
        print(asyncio.run(fetch_video(config, args.job, args.out)))
    except StoryboardError as exc:
        print(f"error: {t(exc.key, 'en-US', **exc.fields)}", file=sys.stderr)
        return 1
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _config_with_token(path: Path) -> Config | None:
    """The config, or None after saying (one line a problem) why it can't log in."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc.describe(), file=sys.stderr)
        return None
    if config.discord_token is None:
        print(
            f"{config.path}: discord.token: missing (set it, or DISCORD_TOKEN in the environment)",
            file=sys.stderr,
        )
        return None
    return config


def _run(args: argparse.Namespace) -> int:
    config = _config_with_token(args.config)
    if config is None:
        return 1
    from bot.runner import run_bot  # discord.py is only imported for `run` and `invite`

    return run_bot(config, force_sync=args.sync, log_level=args.log_level)


def _invite(args: argparse.Namespace) -> int:
    import discord

    from bot.invite import BOT_PERMISSIONS, fetch_application_id, invite_url, permission_names
    from bot.reach import DiscordUnreachable, unreachable_line
    from bot.runner import token_refused_line

    client_id: int | None = args.client_id
    if client_id is None:
        config = _config_with_token(args.config)
        if config is None:
            return 1
        assert config.discord_token is not None
        try:
            client_id = asyncio.run(fetch_application_id(config.discord_token.get_secret_value()))
        except discord.LoginFailure:
            print(token_refused_line(config), file=sys.stderr)
            return 1
        except DiscordUnreachable as exc:
            print(unreachable_line(str(exc)), file=sys.stderr)
            return 1
        except discord.HTTPException as exc:
            print(f"Discord answered HTTP {exc.status}: {exc.text}", file=sys.stderr)
            return 1
    print(invite_url(client_id))
    words = ", ".join(t(f"perm.{name}", "en-US") for name in permission_names(BOT_PERMISSIONS))
    print(f"permissions {BOT_PERMISSIONS.value}: {words}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return _check_config(args)
    if args.command == "render":
        return _render(args)
    if args.command == "invite":
        return _invite(args)
    if args.command == "fetch-video":
        return _fetch_video(args)
    return _run(args)
