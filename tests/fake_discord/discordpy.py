"""Pointing the real discord.py at the fake, and running a client against it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TypeVar

import discord
import discord.asset
import discord.gateway
import discord.http
import yarl

ClientT = TypeVar("ClientT", bound=discord.Client)


class DiscordPyPatch:
    """Sets discord.py's REST base, gateway URL and CDN base; `restore()` puts them back.

    Use as a context manager, or call `restore()`; FakeDiscord restores on exit.
    """

    def __init__(self, api_base: str, gateway_url: str, cdn_base: str) -> None:
        self._new = (api_base, yarl.URL(gateway_url), cdn_base)
        self._old = (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            discord.asset.Asset.BASE,
        )
        self.applied = False

    def apply(self) -> DiscordPyPatch:
        api_base, gateway, cdn = self._new
        discord.http.Route.BASE = api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
        discord.asset.Asset.BASE = cdn
        self.applied = True
        return self

    def restore(self) -> None:
        if self.applied:
            api_base, gateway, cdn = self._old
            discord.http.Route.BASE = api_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
            discord.asset.Asset.BASE = cdn
            self.applied = False

    def __enter__(self) -> DiscordPyPatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()


@contextlib.asynccontextmanager
async def running_client(
    client: ClientT,
    token: str,
    wait_ready: Callable[[], Awaitable[object]],
    *,
    ready_within: float,
    skip_reidentify_delay: bool = False,
) -> AsyncIterator[ClientT]:
    """Start `client`, wait until the fake sent READY, yield; then close it and its task.

    discord.py sleeps 5 s before every IDENTIFY but the first (`before_identify_hook`);
    `skip_reidentify_delay` replaces that hook on this client instance.
    """
    if skip_reidentify_delay:

        async def no_delay(shard_id: int | None, *, initial: bool = False) -> None:
            return None

        client.before_identify_hook = no_delay  # type: ignore[method-assign]
    task = asyncio.create_task(client.start(token), name="fake-discord-client")
    waiter = asyncio.ensure_future(wait_ready())
    done, _ = await asyncio.wait(
        {task, waiter}, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED
    )
    try:
        if waiter not in done:
            if task in done:
                task.result()  # raises what login or connect raised
                raise RuntimeError("the client stopped before the fake gateway sent READY")
            raise TimeoutError(f"the client did not IDENTIFY within {ready_within}s")
        waiter.result()
        yield client
    finally:
        waiter.cancel()
        await _close(client, task)


async def _close(client: discord.Client, task: asyncio.Task[None]) -> None:
    await client.close()
    try:
        await asyncio.wait_for(task, timeout=5)
    except TimeoutError:
        task.cancel()
    except Exception:
        pass  # the test already saw (or will see) what made the client fail
    ready_task: asyncio.Task[None] | None = getattr(client._connection, "_ready_task", None)
    if ready_task is not None and not ready_task.done():
        # discord.py waits guild_ready_timeout (2 s) after the last GUILD_CREATE before
        # on_ready; a short test closes first and would leave that task pending.
        ready_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ready_task
