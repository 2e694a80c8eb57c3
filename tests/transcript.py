"""What a member sees, in their language, written out as Markdown for closing notes.

    python -m tests.transcript --locale en-US --locale zh-CN [--flow happy ...] [--out FILE.md]

Each flow drives the real bot through the fake Discord and the fake provider (a fresh
`running_world` per flow and locale), with the member's interaction locale set to the
locale asked for. After each step the screen is looked at: every message the member can
see that appeared or changed since the last look (ephemeral ones only when they are the
member's), and the forms the bot opened for them. Nothing is taken from the catalogues:
the texts are the bodies the bot sent, as the fake Discord holds them. Discord timestamps
(`<t:…:R>`) are left as sent; the reader's client renders them.

Flows: happy (a one-line storyboard from queued to delivered), moderation (a task failed by
the provider's safety check; a create refused by it), quota (over the daily limit, and
`/video quota`), draft (`/draft new` and two shots added).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storyboard import shots_from_prompt
from tests.fake_discord import FakeDiscord, InteractionHandle
from tests.fake_discord.models import Member, snowflake_iso
from tests.fake_discord.standard import GUILD_ID
from tests.fake_discord.world import EPHEMERAL, LOADING
from tests.fake_provider import FakeProvider, Fault
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.harness import ErrorCatcher, World, running_world
from tests.test_card_truth_e2e import seed_finished
from tests.test_governance_e2e import with_guild
from tests.test_moderation_e2e import REAL_PERSON, THIRD_PARTY, refusal_body

JSON = dict[str, Any]
HAPPY_PROMPT = "[5s] A fox wakes. | [5s] It runs into the snow."
MODAL = 9
BUTTON, LINK_STYLE = 2, 5
SELECTS = (3, 5, 6, 7, 8)


# -- rendering one message --------------------------------------------------------------


def render_components(components: Sequence[JSON]) -> list[str]:
    """One line per action row: `[Label]` a button (`↗` a link), `[▾ placeholder]` a select."""
    lines: list[str] = []
    for row in components:
        items = row.get("components") if row.get("type") == 1 else [row]
        shown: list[str] = []
        for item in items or []:
            kind = item.get("type")
            if kind == BUTTON:
                emoji = (item.get("emoji") or {}).get("name")
                label = " ".join(p for p in (emoji, item.get("label")) if p)
                link = " ↗" if item.get("style") == LINK_STYLE else ""
                off = " (disabled)" if item.get("disabled") else ""
                shown.append(f"[{label}{link}]{off}")
            elif kind in SELECTS:
                shown.append(f"[▾ {item.get('placeholder') or ''}]".replace(" ]", "]"))
            elif kind == 10:  # a text display (components v2)
                lines.append(str(item.get("content", "")))
            elif item.get("components"):
                lines.extend(render_components(item["components"]))
        if shown:
            lines.append(" ".join(shown))
    return lines


def render_embed(embed: JSON) -> list[str]:
    """An embed as text: title, description, `name: value` per field, footer; `▌` marks it."""
    lines: list[str] = []
    if embed.get("author", {}).get("name"):
        lines.append(str(embed["author"]["name"]))
    if embed.get("title"):
        lines.append(f"**{embed['title']}**")
    if embed.get("description"):
        lines.extend(str(embed["description"]).splitlines())
    for f in embed.get("fields", []):
        name, *more = f"{f['name']}: {f['value']}".splitlines()
        lines.append(name)
        lines.extend(f"  {line}" for line in more)
    for media in ("thumbnail", "image"):
        url = (embed.get(media) or {}).get("url")
        if url:
            lines.append(f"({media}: {str(url).split('?', 1)[0].rsplit('/', 1)[-1]})")
    if embed.get("footer", {}).get("text"):
        lines.append(f"— {embed['footer']['text']}")
    return [f"▌ {line}".rstrip() for line in lines]


def render_message(message: JSON) -> str:
    """The message as the member reads it: text, embeds, attachments' names, buttons."""
    lines = str(message.get("content") or "").splitlines()
    for embed in message.get("embeds", []):
        lines.extend(render_embed(embed))
    lines.extend(f"📎 {a['filename']}" for a in message.get("attachments", []))
    lines.extend(render_components(message.get("components", [])))
    return "\n".join(lines)


def render_modal(modal: JSON) -> str:
    """A form: its title, then each field's label (and hint), as the member sees it."""
    lines = [f"**{modal.get('title', '')}**"]
    for part in modal.get("components", []):
        if part.get("type") == 18:  # a label around one input
            hint = f" — {part['description']}" if part.get("description") else ""
            inner = part.get("component", {})
            value = f" = {inner['value']!r}" if inner.get("value") else ""
            lines.append(f"{part.get('label', '')}{hint}{value}")
        elif part.get("type") == 10:
            lines.append(str(part.get("content", "")))
        else:
            for item in part.get("components", []):
                lines.append(str(item.get("label") or item.get("placeholder") or ""))
    return "\n".join(lines)


def fenced(text: str) -> str:
    """`text` in a code block whose fence no run of backticks in it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


# -- what the member sees ----------------------------------------------------------------


@dataclass
class Screen:
    """The member's view of Discord, looked at after each step of a flow."""

    world: World
    member: Member
    # Message id -> how it looked last time; interaction ids whose form was shown.
    seen: dict[int, str] = field(default_factory=dict)
    forms_seen: set[int] = field(default_factory=set)
    # Messages from the flow's setup (another member's job, ...), and the threads on them.
    hidden: set[int] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    steps: int = 0

    def hide_what_is_there(self) -> None:
        """Leave out every message so far (the setup's), and later ones in their threads
        (a thread made on a message has that message's id)."""
        self.hidden |= set(self.world.fd.messages)
        self.forms_seen |= set(self.world.fd.world.interactions)

    def _visible(self, message: JSON) -> bool:
        if int(message["id"]) in self.hidden or int(message["channel_id"]) in self.hidden:
            return False
        if message["flags"] & LOADING:
            return False  # "…is thinking": the answer replaces it
        if message["flags"] & EPHEMERAL:
            meta = message.get("interaction_metadata") or {}
            return str(meta.get("user", {}).get("id")) == str(self.member.id)
        return True

    def _where(self, message: JSON) -> str:
        if message["flags"] & EPHEMERAL:
            return "Reply only you can see"
        channel_id = int(message["channel_id"])
        try:
            _, channel = self.world.fd.world.find_channel(channel_id)
        except Exception:
            return f"<#{channel_id}>"
        kind = "Thread" if channel.type in (10, 11, 12) else "Channel"
        return f"{kind} #{channel.name}"

    def changed(self, message_id: int | None) -> bool:
        """Whether the message looks different from the last look (a wait condition)."""
        message = self.world.fd.messages.get(message_id or 0)
        return message is not None and render_message(message) != self.seen.get(int(message["id"]))

    def look(self, step: str) -> None:
        """Write the step, then what appeared, changed or went since the last look, in
        the order it happened (a message by when it was posted or last edited)."""
        self.steps += 1
        self.lines += [f"### {self.steps}. {step}", ""]
        items: list[tuple[str, int, str, str]] = []
        for state in self.world.fd.world.interactions.values():
            if state.id in self.forms_seen or state.user.id != self.member.id:
                continue
            if state.callback_type == MODAL and state.callback is not None:
                self.forms_seen.add(state.id)
                text = render_modal(state.callback["data"])
                items.append((snowflake_iso(state.id), state.id, "Form", text))
        for message_id, message in self.world.fd.messages.items():
            if not self._visible(message):
                continue
            text = render_message(message)
            before = self.seen.get(message_id)
            if text == before:
                continue
            self.seen[message_id] = text
            how = "new" if before is None else "edited"
            when = message.get("edited_timestamp") or message["timestamp"]
            items.append((when, message_id, f"{self._where(message)} · {how}", text))
        for message_id in sorted(set(self.seen) - set(self.world.fd.messages)):
            items.append(("~", message_id, "Deleted", self.seen.pop(message_id)))
        if not items:
            self.lines += ["_(nothing new)_", ""]
        for _, _, heading, text in sorted(items):
            self.lines += [f"**{heading}**", "", fenced(text), ""]


@dataclass
class Actor:
    """The member, whose Discord is in `locale`: commands, buttons and forms."""

    world: World
    user: Member
    locale: str

    async def command(self, name: str, **options: Any) -> InteractionHandle:
        ix = await self.world.fd.run_slash_command(
            guild=self.world.std.guild,
            channel=self.world.std.text,
            user=self.user,
            name=name,
            options=options,
            locale=self.locale,
        )
        await self.answered(ix)
        return ix

    async def press(self, message_id: int | None, custom_id: str) -> InteractionHandle:
        ix = await self.world.fd.press_button(
            message_id or 0, custom_id, user=self.user, locale=self.locale
        )
        await self.answered(ix)
        return ix

    async def fill(self, ix: InteractionHandle, values: dict[str, Any]) -> InteractionHandle:
        sub = await self.world.fd.submit_modal(ix, values, user=self.user, locale=self.locale)
        await self.answered(sub)
        return sub

    async def answered(self, ix: InteractionHandle) -> None:
        """Until the member has the answer: a form, a message, or the followup after
        "…is thinking"."""
        callback = await ix.wait_callback()
        if callback["type"] == 5:
            await self.world.wait_reply(ix)


# -- the flows ---------------------------------------------------------------------------


def buttons_of(world: World, message_id: int | None) -> list[str]:
    message = world.fd.messages.get(message_id or 0, {})
    return [
        str(b.get("custom_id") or b.get("url"))
        for row in message.get("components", [])
        for b in row.get("components", [])
    ]


def label_of(world: World, message_id: int | None, custom_id: str) -> str:
    """The label of a button as the member reads it."""
    message = world.fd.messages.get(message_id or 0, {})
    return next(
        str(b.get("label"))
        for row in message.get("components", [])
        for b in row.get("components", [])
        if b.get("custom_id") == custom_id
    )


def has_link(world: World, message_id: int | None) -> bool:
    message = world.fd.messages.get(message_id or 0, {})
    return any(
        b.get("style") == LINK_STYLE
        for row in message.get("components", [])
        for b in row.get("components", [])
    )


async def delivered(world: World, job_id: int) -> bool:
    """The job's end was posted (the video, or why it failed)."""
    return (await world.job(job_id)).delivered_at is not None


def prompt_seconds(prompt: str) -> int:
    return sum(shot.duration or 0 for shot in shots_from_prompt(prompt))


async def happy(world: World, screen: Screen, me: Actor) -> None:
    # Setup, not shown: three earlier videos like this one (so the card can estimate), and
    # another member's job queued ahead (so it shows its place in the queue).
    seconds = prompt_seconds(HAPPY_PROMPT)
    for took in (100, 400, 200):
        await seed_finished(world, took, guild_id=GUILD_ID, seconds=seconds)
    await world.submitted_job("Someone else's kite.", user=world.std.admin, seconds=seconds)
    screen.hide_what_is_there()

    await me.command("storyboard", prompt=HAPPY_PROMPT, seconds=seconds)
    screen.look(f'`/storyboard prompt:"{HAPPY_PROMPT}" seconds:{seconds}`')
    job = (await world.jobs())[-1]

    world.provider.advance(20)  # queued 5 s, then 60 s running: 25 %
    await world.wait_until(lambda: screen.changed(job.card_message_id))
    screen.look("The provider starts the video (25 %)")

    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    await world.wait_until(lambda: has_link(world, job.card_message_id))
    screen.look("The video is done and delivered")


async def moderation(world: World, screen: Screen, me: Actor) -> None:
    world.provider.set_outcome(None, "fail", code="moderation_blocked", message=THIRD_PARTY)
    await me.command("storyboard", prompt="A famous mouse sings.", seconds=10)
    screen.look('`/storyboard prompt:"A famous mouse sings." seconds:10`')
    job = (await world.jobs())[-1]

    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    want = [f"sb:remix:{job.id}", f"sb:details:{job.id}"]
    await world.wait_until(lambda: buttons_of(world, job.card_message_id) == want)
    screen.look(f"The provider's safety check fails the task ({THIRD_PARTY!r})")

    world.provider.inject(
        Fault(route="create", kind="status", status=400, body=refusal_body(REAL_PERSON))
    )
    await me.command("storyboard", prompt="A famous actor waves.", seconds=10)
    screen.look(
        '`/storyboard prompt:"A famous actor waves." seconds:10`, refused at create by the'
        f" safety check (400, {REAL_PERSON!r})"
    )


async def quota(world: World, screen: Screen, me: Actor) -> None:
    world.bot.config = with_guild(world, daily_jobs_per_user=1, quota_reset_hour_utc=6)
    await me.command("storyboard", prompt="The one that counts.", seconds=10)
    screen.look("Daily limit 1 video a member: `/storyboard` (the day's one)")
    await me.command("storyboard", prompt="One too many.", seconds=10)
    screen.look('`/storyboard prompt:"One too many." seconds:10` over the daily limit')
    await me.command("video quota")
    screen.look("`/video quota`")


async def draft(world: World, screen: Screen, me: Actor) -> None:
    ix = await me.command("draft new", title="The fridge monster")
    screen.look('`/draft new title:"The fridge monster"`')
    made = await world.bot.store.drafts.get(1)
    panel = made.panel_message_id
    # 5 s and 10 s: the draft's 15 s, so the panel has no warning to show.
    for scene, seconds in (("The fridge door opens.", "5"), ("A purple monster steps out.", "10")):
        add = f"sbd:add:{made.id}"
        label = label_of(world, panel, add)
        ix = await me.press(panel, add)
        screen.look(f"The member presses [{label}] on the panel")
        await me.fill(ix, {"scene": scene, "duration": seconds})
        await world.wait_until(lambda: screen.changed(panel))
        screen.look(f'The form sent: scene "{scene}", duration {seconds}')


Flow = Callable[[World, Screen, Actor], Awaitable[None]]
FLOWS: dict[str, Flow] = {
    "happy": happy,
    "moderation": moderation,
    "quota": quota,
    "draft": draft,
}


# -- running ----------------------------------------------------------------------------


@asynccontextmanager
async def fresh_world() -> AsyncIterator[World]:
    """Both fakes and the bot, as the `world` fixture has them; fails on any ERROR log of
    the bot or any request Discord would refuse."""
    with tempfile.TemporaryDirectory() as tmp, ErrorCatcher().attached() as errors:
        async with (
            FakeDiscord() as fd,
            FakeProvider(keys={GUILD_A_KEY, GUILD_B_KEY}, dialect="relay") as provider,
        ):
            with fd.point_discord_py_here():
                async with running_world(fd, provider, Path(tmp)) as world:
                    yield world
            fd.assert_all_valid()
        bad = errors.unexpected([])
        if bad:
            raise AssertionError("unexpected ERROR logs:\n" + "\n".join(bad))


async def transcript(flow: str, locale: str) -> list[str]:
    """The Markdown of one flow in one locale."""
    async with fresh_world() as world:
        screen = Screen(world, world.std.alice)
        # A server whose language is the member's: what everyone reads is in it too.
        world.std.guild.preferred_locale = locale
        await FLOWS[flow](world, screen, Actor(world, world.std.alice, locale))
    return [f"## {flow} — {locale}", "", *screen.lines]


async def transcripts(flows: Sequence[str], locales: Sequence[str]) -> str:
    parts = [
        "# What a member sees",
        "",
        "Produced by `python -m tests.transcript`: the real bot driven through the fake"
        " Discord and the fake provider, the member's Discord and the server in the locale named. Each block"
        " is a message as the bot sent it (▌ an embed, 📎 an attachment, [ ] a button);"
        " `<t:…:R>` is a Discord timestamp, shown by the reader's client as a relative time.",
        "",
    ]
    for flow in flows:
        for locale in locales:
            parts += await transcript(flow, locale)
    return "\n".join(parts).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.transcript", description=__doc__)
    parser.add_argument(
        "--locale", action="append", help="a Discord locale, e.g. en-US (repeatable)"
    )
    parser.add_argument("--flow", action="append", choices=list(FLOWS), help="(repeatable)")
    parser.add_argument("--out", type=Path, help="write the Markdown here, not to stdout")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    text = asyncio.run(transcripts(args.flow or list(FLOWS), args.locale or ["en-US"]))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(args.out)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
