"""`check-config --ping`: one line per guild, in an admin's words.

What matters before members arrive: the provider answers, the guild's key is accepted,
and whether the provider has a list route (without one, a create whose answer was lost
can't be looked up, and the member is asked before anything is submitted again).
One try per request, no retries: the answer is for a person waiting at a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import GuildSettings, shown_url
from bot.videos_api import (
    AuthFailed,
    NotSupported,
    ProviderDown,
    ProviderTimeout,
    RateLimited,
    Rejected,
    VideoApi,
    VideoApiError,
    VideoClient,
)

# What a ping looks up: no task has this id, so a 404 means the key got past the door.
PROBE_ID = "storyboard-ping"


# aiohttp's failures to connect (`ProviderDown.detail` names the class), in words.
NO_CONNECTION = {
    "ClientConnectorDNSError": "the host name does not resolve",
    "ClientConnectorError": "connection refused or no route to the host",
    "ClientConnectorCertificateError": "its TLS certificate is not valid",
    "ClientConnectorSSLError": "the TLS handshake failed",
    "ServerDisconnectedError": "it closed the connection",
    "ConnectionTimeoutError": "no connection within the timeout",
}


@dataclass(frozen=True)
class PingResult:
    ok: bool
    text: str


def _failure(exc: VideoApiError) -> str:
    if isinstance(exc, AuthFailed):
        return f"key refused (HTTP {exc.status}): check the key, and that it is for this provider"
    if isinstance(exc, ProviderTimeout):
        return f"no answer within {exc.seconds:g} s (provider.timeout_seconds)"
    if isinstance(exc, ProviderDown):
        if exc.status is None:
            why = NO_CONNECTION.get(exc.detail, exc.detail or "no connection")
            return f"unreachable ({why}): check base_url and the network"
        return f"the provider answered HTTP {exc.status}: it is not working now"
    if isinstance(exc, RateLimited):
        return "rate limited (HTTP 429): the key works but is over its limit now; try later"
    if isinstance(exc, Rejected):
        return f"refused (HTTP {exc.status}: {exc.message})"
    return type(exc).__name__


async def _list_route(client: VideoClient) -> str:
    """Whether the provider lists jobs; raises the failures that say more than that."""
    try:
        await client.list_videos(limit=1)
    except NotSupported:
        return f"no list route in the {client.profile.name} profile"
    except Rejected as exc:
        if exc.status not in (404, 405):
            raise
        return (
            f"no list route (HTTP {exc.status}): a create whose answer is lost can't be"
            " looked up; members are asked before anything is submitted again"
        )
    return "list route present"


async def ping_guild(api: VideoApi, label: str, settings: GuildSettings) -> PingResult:
    if settings.is_sandbox:
        return PingResult(ok=True, text=f"{label}: sandbox: no provider, nothing to ask")
    if settings.api_key is None:
        return PingResult(ok=True, text=f"{label}: no key: this server can't submit")
    client = api.client_for(settings)
    where = shown_url(settings.base_url)
    try:
        listing = await _list_route(client)
        try:  # a list answer may not prove the key (a 404 before auth): ask for one task
            await client.retrieve(PROBE_ID)
        except Rejected as exc:
            if exc.status not in (404, 400, 422):
                raise
    except VideoApiError as exc:
        return PingResult(ok=False, text=f"{label}: {where}: {_failure(exc)}")
    return PingResult(ok=True, text=f"{label}: {where}: reachable, key accepted, {listing}")
