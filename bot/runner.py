"""Start the bot from a checked config, and stop it cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import discord

from bot.bot import StoryboardBot
from bot.config import Config, config_file_warnings
from bot.logs import setup_logging

log = logging.getLogger(__name__)
# The whole stop, the wait for submissions under way included, ends within this. Docker
# sends SIGKILL 10 s after SIGTERM; the rest is for the interpreter's exit and a busy host.
STOP_SECONDS = 7.0


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


def run_bot(config: Config, *, force_sync: bool = False, log_level: str = "INFO") -> int:
    """0 after a stop by signal; 1 when Discord ended the session for good (bad token,
    intents not allowed), logged through the masking handler like everything else."""
    setup_logging(log_level, config.secrets(), config.file.ops.log_format)
    for warning in config_file_warnings(config.path):
        log.warning("%s", warning)
    try:
        asyncio.run(_serve(config, force_sync=force_sync))
    except KeyboardInterrupt:
        pass
    except (
        discord.LoginFailure,
        discord.PrivilegedIntentsRequired,
        discord.ConnectionClosed,
    ) as exc:
        log.error("Discord ended the session (%s): %s", type(exc).__name__, exc)
        return 1
    return 0
