"""Start the product exactly as `storyboard-bot run --config PATH` does, against the fakes.

The only difference from production: discord.py's two URLs point at the fake
Discord named in the environment (`FAKE_DISCORD_API`, `FAKE_DISCORD_GATEWAY`).
The product itself has no test hook. `LOGIN_SECONDS`, when set, shortens how long the
runner waits for a stalled Discord (20 s in production), so that test runs quickly.
"""

from __future__ import annotations

import os
import runpy
import sys

import discord
import yarl

import bot.reach

discord.http.Route.BASE = os.environ["FAKE_DISCORD_API"]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["FAKE_DISCORD_GATEWAY"])
if "LOGIN_SECONDS" in os.environ:
    bot.reach.LOGIN_SECONDS = float(os.environ["LOGIN_SECONDS"])
sys.argv = ["storyboard-bot", "run", "--config", sys.argv[1], *sys.argv[2:]]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
