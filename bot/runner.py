"""Start the bot from a checked config, and stop it cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import aiohttp
import discord

from bot import reach
from bot.bot import StoreUnavailable, StoryboardBot
from bot.config import Config, config_file_warnings
from bot.config_checks import config_warnings
from bot.logs import setup_logging

log = logging.getLogger(__name__)
# The whole stop, the wait for submissions under way included, ends within this. Docker
# sends SIGKILL 10 s after SIGTERM; the rest is for the interpreter's exit and a busy host.
STOP_SECONDS = 7.0


async def _logged_in_or_stopped(
    bot: StoryboardBot, runner: asyncio.Task[None], stopper: asyncio.Task[bool]
) -> None:
    """Wait until login got through (or failed, or a stop came); raise `reach.DiscordUnreachable`
    when Discord did not answer within `reach.LOGIN_SECONDS`."""
    login = asyncio.create_task(bot.logged_in.wait())
    try:
        done, _ = await asyncio.wait(
            {runner, stopper, login},
            timeout=reach.LOGIN_SECONDS,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        login.cancel()
    if not done:
        raise reach.DiscordUnreachable(reach.why_unreachable(TimeoutError()))


async def _serve(config: Config, *, force_sync: bool) -> None:
    assert config.discord_token is not None
    bot = StoryboardBot(config, force_sync=force_sync)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with bot:
        runner = asyncio.create_task(bot.start(config.discord_token.get_secret_value()))
        stopper = asyncio.create_task(stop.wait())
        try:
            await _logged_in_or_stopped(bot, runner, stopper)
        except reach.DiscordUnreachable:
            stopper.cancel()
            runner.cancel()
            await asyncio.wait({runner})
            if not runner.cancelled():
                runner.exception()  # retrieved: it is the stall itself, said above
            raise
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("stopping on signal")
            bot.stop_by(loop.time() + STOP_SECONDS)
        await bot.close()  # drains until the deadline, less the time closing takes
        stopper.cancel()
        if runner.done():
            runner.result()  # re-raises a failed login, for example
        else:
            runner.cancel()


def token_refused_line(config: Config) -> str:
    where = "DISCORD_TOKEN" if os.environ.get("DISCORD_TOKEN", "").strip() else "discord.token"
    return (
        f"{config.path}: {where}: Discord refused the token (401); copy it again from the"
        " Developer Portal (your application, Bot, Reset Token)"
    )


def run_bot(config: Config, *, force_sync: bool = False, log_level: str = "INFO") -> int:
    """0 after a stop by signal; 1 when Discord can't be reached or ended the session for
    good (bad token, intents not allowed), or the database can't be opened: one line each,
    through the masking handler like everything else, never a traceback."""
    setup_logging(
        log_level,
        config.secrets(),
        config.file.ops.log_format,
        process=config.shards.describe() if config.shards else None,
    )
    for warning in config_file_warnings(config.path) + config_warnings(config):
        log.warning("%s", warning)
    try:
        asyncio.run(_serve(config, force_sync=force_sync))
    except KeyboardInterrupt:
        pass
    except reach.DiscordUnreachable as exc:
        log.error("%s", reach.unreachable_line(str(exc)))
        return 1
    except aiohttp.ClientError as exc:  # refused, DNS, TLS: before any answer from Discord
        log.error("%s", reach.unreachable_line(reach.why_unreachable(exc)))
        return 1
    except StoreUnavailable as exc:  # opened after login, before the gateway
        log.error("cannot open the database %s", exc)
        return 1
    except discord.LoginFailure:
        log.error("%s", token_refused_line(config))
        return 1
    except (
        discord.PrivilegedIntentsRequired,
        discord.ConnectionClosed,
    ) as exc:
        log.error("Discord ended the session (%s): %s", type(exc).__name__, exc)
        return 1
    return 0
