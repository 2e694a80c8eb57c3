"""Whether Discord answers at login, and why not in an admin's words.

aiohttp's own limit is 300 s of silence, then a bare `TimeoutError`; an admin starting
the bot (or asking for its invite link) wants one line within 30 s.
"""

from __future__ import annotations

import os

import aiohttp
import discord

# How long logging in may take before Discord counts as unreachable.
LOGIN_SECONDS = 20.0


class DiscordUnreachable(Exception):
    """Logging in did not get an answer from Discord: why, in an admin's words."""


def why_unreachable(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"the name {exc.host} does not resolve (DNS)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = exc.os_error.errno
        reason = os.strerror(code) if code else str(exc.os_error)
        return f"can't connect to {exc.host}:{exc.port} ({reason.lower()})"
    if isinstance(exc, aiohttp.ClientError):
        return f"the connection failed ({type(exc).__name__}: {exc})"
    return f"no answer within {LOGIN_SECONDS:g} s"


def unreachable_line(why: str) -> str:
    return (
        f"cannot reach Discord at {discord.http.Route.BASE}: {why}; check the network, DNS,"
        " firewall or proxy of this machine (https://discord.com must be reachable)"
    )
