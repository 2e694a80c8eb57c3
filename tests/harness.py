"""The real bot, wired to the fake Discord and the fake provider, for end-to-end tests.

`world` starts both fakes, writes a real config (a real SQLite file under
tmp_path, or a fresh PostgreSQL database: `--store`, tests/backends.py), runs `StoryboardBot` through its `setup_hook` and gateway login, and
gives tests one-line drivers: `open_storyboard`, `submit`, `wait_done`.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from bot.bot import StoryboardBot
from bot.config import Config, parse_config
from bot.store import Job
from tests import backends
from tests.backends import SQLITE_FILE, storage_section
from tests.fake_discord import FakeDiscord, InteractionHandle, RecordedCall
from tests.fake_discord.discordpy import running_client
from tests.fake_discord.models import Channel, Guild, Member, Perm, Role
from tests.fake_discord.standard import GUILD_ID, StandardGuild, add_standard_guild
from tests.fake_provider import FakeProvider
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY

SECOND_GUILD_ID = 1_300_000_000_000_000_001
SECOND_CHANNEL_ID = 1_300_000_000_000_000_101
NO_KEY_GUILD_ID = 1_400_000_000_000_000_001
NO_KEY_CHANNEL_ID = 1_400_000_000_000_000_101
CAROL_ID = 1_300_000_000_000_000_301
MOD_ROLE_ID = 1_200_000_000_000_000_203
MOD_ID = 1_200_000_000_000_000_304

CALLBACK = "POST /interactions/{interaction_id}/{interaction_token}/callback"
FOLLOWUP = "POST /webhooks/{webhook_id}/{webhook_token}"
SEND = "POST /channels/{channel_id}/messages"
THREAD_FROM_MESSAGE = "POST /channels/{channel_id}/messages/{message_id}/threads"


def png_bytes(size: tuple[int, int] = (64, 36), colour: str = "purple") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def config_for(
    provider: FakeProvider,
    fd: FakeDiscord,
    db: Path,
    /,
    *,
    backend: str = "sqlite",
    **overrides: Any,
) -> Config:
    """The test config; `overrides` update its sections (`provider={"profile": ...}` too:
    the first three are positional only). On SQLite the database is the file `db`; on
    PostgreSQL it is the database standing for `db`'s directory (`storage_section`)."""
    data: dict[str, Any] = {
        "discord": {"token": fd.bot_token},
        "provider": {
            "base_url": provider.base_url,
            "timeout_seconds": 2,
            "max_requests_per_second": 50,
        },
        "defaults": {"model": "sora-2", "seconds": 15},
        "images": {"max_mb": 2},
        # Fast polling: the fake provider's clock moves only when a test advances it.
        "tracking": {
            "poll_min_seconds": 0.05,
            "poll_max_seconds": 0.2,
            "max_job_minutes": 60,
            # Lookups of a lost create, 404 confirmation, late looks and delivery retries
            # on the same fast scale (the production defaults are minutes).
            "resolve_delays_seconds": [0.05, 0.1, 0.2],
            "lost_after_minutes": 0.01,
            "late_poll_minutes": 0.005,
            "delivery_retry_seconds": 0.2,
            # A process killed mid-delivery holds its claim this long (production: 60 s).
            "delivery_lease_seconds": 1,
        },
        "storage": storage_section(backend, db.parent, db.name),
        "guilds": {
            str(GUILD_ID): {"api_key": GUILD_A_KEY},
            str(SECOND_GUILD_ID): {"api_key": GUILD_B_KEY, "seconds": 10},
        },
    }
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return parse_config(data, db.parent / "config.toml", env={})


@dataclass
class World:
    fd: FakeDiscord
    provider: FakeProvider
    bot: StoryboardBot
    config: Config
    std: StandardGuild
    second: Guild
    second_channel: Channel
    carol: Member
    mod: Member
    no_key: Guild
    no_key_channel: Channel
    # Where the bot's data lives: its SQLite file, or the PostgreSQL database standing for
    # this directory (tests/backends.py).
    data_dir: Path
    store_backend: str = "sqlite"
    secrets: list[str] = field(default_factory=list)
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start_bot(self, config: Config | None = None) -> StoryboardBot:
        """Start a new bot process-equivalent on the same database (after `stop_bot`)."""
        self.config = config or self.config
        self.bot = StoryboardBot(self.config)
        # The bot reads message ages against Discord's clock: the fake's, which
        # `fd.advance_clock` moves (a card an hour old without waiting an hour).
        self.bot.discord_clock = self.fd.world.wall_now
        sessions = len(self.fd.gateway.log.sessions)
        await self.stack.enter_async_context(
            running_client(
                self.bot,
                self.fd.bot_token,
                lambda: self.fd.gateway.wait_sessions(sessions + 1, 10),
                ready_within=10,
                skip_reidentify_delay=True,
            )
        )
        return self.bot

    def config_with(self, **overrides: Any) -> Config:
        """The world's config with `overrides` (as `config_for`), on the same store."""
        return config_for(
            self.provider,
            self.fd,
            self.data_dir / SQLITE_FILE,
            backend=self.store_backend,
            **overrides,
        )

    @property
    def storage(self) -> dict[str, str]:
        """The config's `[storage]` section for this world's database."""
        return storage_section(self.store_backend, self.data_dir)

    async def sql(self, statement: str, *args: Any) -> list[dict[str, Any]]:
        """One statement on the bot's database, beside the bot (`tests.backends.sql`)."""
        return await backends.sql(self.storage, statement, *args)

    async def stop_bot(self) -> None:
        await self.stack.aclose()
        self.stack = AsyncExitStack()

    async def restart(self, config: Config | None = None) -> StoryboardBot:
        await self.stop_bot()
        return await self.start_bot(config)

    async def wait_until(
        self, check: Callable[[], Awaitable[bool]] | Callable[[], bool], within: float = 10.0
    ) -> None:
        """Poll `check` until it holds; fail with the recent calls if it never does."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition never held\n" + self.fd.describe_calls(last=15))
            await asyncio.sleep(0.02)

    async def job(self, job_id: int = 1) -> Job:
        return await self.bot.store.job(job_id)

    async def submitted_job(self, *scenes: str, user: Member | None = None, **options: Any) -> Job:
        """Run /storyboard and submit it; return the stored job once its card is up."""
        options = {"shots": len(scenes), "seconds": 10, **options}
        ix = await self.open_storyboard(user, **options)
        await self.submit(ix, list(scenes))
        jobs = await self.jobs()
        return jobs[-1]

    async def open_storyboard(
        self,
        user: Member | None = None,
        *,
        guild: Guild | None = None,
        channel: Channel | None = None,
        **options: Any,
    ) -> InteractionHandle:
        """`/storyboard` with `options`; returns once the bot answered (modal or refusal)."""
        ix = await self.fd.run_slash_command(
            guild=guild or self.std.guild,
            channel=channel or self.std.text,
            user=user or self.std.alice,
            name="storyboard",
            options=options,
        )
        await ix.wait_callback()
        return ix

    async def submit(
        self,
        ix: InteractionHandle,
        scenes: Sequence[str],
        *,
        image: Mapping[str, Any] | None = None,
        wait: bool = True,
    ) -> InteractionHandle:
        """Fill the modal's shot fields with `scenes` (and the upload), submit, wait for the reply."""
        values = {f"shot_{n}": text for n, text in enumerate(scenes, start=1)}
        files = {"image": [image]} if image is not None else None
        sub = await self.fd.submit_modal(ix, values, files)
        if wait:
            await self.wait_reply(sub)
        return sub

    async def wait_reply(self, sub: InteractionHandle, count: int = 1) -> list[dict[str, Any]]:
        """Wait for the bot's `count`-th followup on this interaction (its answer to the member)."""
        await sub.wait_callback()
        await self.fd.wait_for_call(
            lambda c: (
                c.route == FOLLOWUP
                and c.params.get("webhook_token") == sub.token
                and c.status == 200
                and len([x for x in sub.webhook_calls if x.route == FOLLOWUP and x.status == 200])
                >= count
            ),
            timeout=10,
        )
        return replies_to(sub)

    def member_message(
        self,
        channel: Channel,
        user: Member,
        content: str,
        attachments: Sequence[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """A message a member posted (the bot never sees it without an interaction)."""
        world = self.fd.world
        message_id = world.ids.next()
        message = world.new_message(
            channel_id=channel.id,
            guild_id=self.std.guild.id,
            body={"content": content},
            files=[],
            message_id=message_id,
        )
        message["author"] = user.user_payload()
        message["attachments"] = [
            {k: v for k, v in a.items() if k != "ephemeral"} for a in attachments
        ]
        return message

    async def use_as_reference(
        self, attachment: dict[str, Any], choice: str, user: Member | None = None
    ) -> InteractionHandle:
        """Bob posts `attachment`; `user` (Alice) runs "Use as reference image" on it and
        picks `choice` (a draft's id, or "quick"); the pick's handle once answered."""
        message = self.member_message(self.std.text, self.std.bob, "look", [attachment])
        menu = await self.fd.run_message_context_menu(
            "Use as reference image", message, user=user or self.std.alice
        )
        await self.wait_reply(menu)
        picker = menu.original_message
        assert picker is not None
        custom_id = picker["components"][0]["components"][0]["custom_id"]
        chosen = await self.fd.select(picker, custom_id, [choice], user=user or self.std.alice)
        await chosen.wait_callback()
        return chosen

    async def jobs(self) -> list[Job]:
        return await self.bot.store.jobs()

    def sent_text(self) -> str:
        """Every body the bot sent to Discord, for leak checks."""
        parts: list[str] = []
        for call in self.fd.calls:
            parts.append(repr(call.json))
            parts.append(repr(call.headers.get("Authorization", "")).replace(self.fd.bot_token, ""))
            parts.extend(repr(data) for _, data in call.files)
        return "\n".join(parts)


def replies_to(sub: InteractionHandle) -> list[dict[str, Any]]:
    """What the member saw in answer: the resolved "thinking" message, then any followups."""
    messages = [sub.original_message] if sub.original_message else []
    return messages + [m for m in sub.followups if m not in messages]


def followup_text(sub: InteractionHandle) -> str:
    return "\n".join(str(m.get("content", "")) for m in replies_to(sub))


def calls_after(fd: FakeDiscord, route: str, since: int) -> list[RecordedCall]:
    return [c for c in fd.calls[since:] if c.route == route]


class ErrorCatcher(logging.Handler):
    """Every ERROR or worse the bot's own loggers (`bot`, `cogs` and below) emit.

    A handler of our own, attached for the fixture's whole life, not `caplog.records`:
    in teardown that holds only the teardown's records, so an error logged while the
    test ran would pass unseen.
    """

    PACKAGES = ("bot", "cogs")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @contextmanager
    def attached(self) -> Iterator[ErrorCatcher]:
        loggers = [logging.getLogger(name) for name in self.PACKAGES]
        for logger in loggers:
            logger.addHandler(self)
        try:
            yield self
        finally:
            for logger in loggers:
                logger.removeHandler(self)

    def unexpected(self, expected: Sequence[str]) -> list[str]:
        """Records no `expected` pattern explains, then patterns that explained nothing.

        An opt-out that matches nothing is stale (the error it excused is gone, or its
        text changed), and it would hide a different error later: it fails too.
        """
        problems: list[str] = []
        used: set[str] = set()
        for record in self.records:
            text = record.getMessage()
            hits = [p for p in expected if re.search(p, text)]
            used.update(hits)
            if not hits:
                line = f"{record.levelname} {record.name}: {text}"
                if record.exc_info and record.exc_info[1] is not None:
                    line += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
                problems.append(line)
        problems.extend(f"expected error never logged: {p!r}" for p in expected if p not in used)
        return problems


def expected_errors_of(request: pytest.FixtureRequest) -> list[str]:
    """The test's `@pytest.mark.expected_errors("regex", ...)` patterns."""
    return [p for mark in request.node.iter_markers("expected_errors") for p in mark.args]


# A stop takes well under a second; one that has not ended by then is stuck somewhere.
STOP_WITHIN = 60.0


async def stop_or_show_why(world: World) -> None:
    """Stop the bot; if it hangs, fail with every asyncio task's stack (pytest-timeout's
    dump shows threads only, and the loop's own thread just waits in select)."""
    stopping = asyncio.ensure_future(world.stop_bot())
    done, _ = await asyncio.wait({stopping}, timeout=STOP_WITHIN)
    if stopping in done:
        stopping.result()
        return
    out = io.StringIO()
    for task in asyncio.all_tasks():
        print(f"--- {task!r}", file=out)
        task.print_stack(file=out)
    stopping.cancel()
    raise AssertionError(f"the bot did not stop within {STOP_WITHIN:.0f} s\n{out.getvalue()}")


def build_world(
    fd: FakeDiscord, provider: FakeProvider, data_dir: Path, backend: str = "sqlite"
) -> World:
    """The standard guilds and members on the fake, and the bot's config with its database
    on `backend` for `data_dir`; the bot not started (`running_world` starts it)."""
    std = add_standard_guild(fd)
    # A moderator: Manage Messages, nothing more.
    std.guild.roles.append(Role(MOD_ROLE_ID, "Mods", Perm.MANAGE_MESSAGES, position=3))
    mod = Member(MOD_ID, "mod", roles=[MOD_ROLE_ID], global_name="Mod")
    std.guild.members.append(mod)
    carol = Member(CAROL_ID, "carol", global_name="Carol")
    second_channel = Channel(SECOND_CHANNEL_ID, "studio")
    second = fd.add_guild(
        SECOND_GUILD_ID, name="Second", channels=[second_channel], members=[carol]
    )
    no_key_channel = Channel(NO_KEY_CHANNEL_ID, "lobby")
    no_key = fd.add_guild(
        NO_KEY_GUILD_ID, name="No Key", channels=[no_key_channel], members=[carol]
    )
    config = config_for(provider, fd, data_dir / SQLITE_FILE, backend=backend)
    return World(
        fd=fd,
        provider=provider,
        bot=StoryboardBot(config),
        config=config,
        std=std,
        second=second,
        second_channel=second_channel,
        carol=carol,
        mod=mod,
        no_key=no_key,
        no_key_channel=no_key_channel,
        data_dir=data_dir,
        store_backend=backend,
        secrets=config.secrets(),
    )


@asynccontextmanager
async def running_world(
    fd: FakeDiscord, provider: FakeProvider, data_dir: Path, backend: str = "sqlite"
) -> AsyncIterator[World]:
    """The real bot on both fakes (already started), with the standard guilds and members
    and its database on `backend` for `data_dir`; stopped on exit. The `world` fixture, and
    tools that drive the bot without pytest (tests/transcript.py), start here."""
    world = build_world(fd, provider, data_dir, backend)
    await world.start_bot()
    try:
        yield world
    finally:
        await stop_or_show_why(world)


@pytest_asyncio.fixture
async def world(
    fake_discord: FakeDiscord,
    fake_provider: FakeProvider,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    store_backend: str,
) -> AsyncIterator[World]:
    caplog.set_level(logging.INFO)
    with ErrorCatcher().attached() as errors:
        async with running_world(fake_discord, fake_provider, tmp_path, store_backend) as world:
            yield world
    # A message missing a field, or an error we did not foresee, in setup, the test or
    # the stop, fails the test that caused it. A test that provokes one on purpose says
    # which with `@pytest.mark.expected_errors(...)`.
    bad = errors.unexpected(expected_errors_of(request))
    if bad:
        pytest.fail("unexpected ERROR logs:\n" + "\n".join(bad), pytrace=False)
