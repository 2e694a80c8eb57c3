"""The transcript tool (tests/transcript.py) writes what a member sees, in the member's
language, from the real bot: the lines checked here are the catalogue's messages (read
through bot.i18n, so a change of wording does not break them) as they must appear."""

from __future__ import annotations

import re
import string

import pytest

from bot.i18n import catalogue, pick_locale, t
from tests.transcript import FLOWS, transcript

LOCALES = ("en-US", "zh-CN")
STAMP = r"<t:\d+:R>"


def said(key: str, locale: str, **fields: str) -> str:
    """The catalogue message `key` as a regex: `fields` are regexes for its fields, a field
    not given matches any text."""
    parts = []
    for text, name, _, _ in string.Formatter().parse(catalogue(pick_locale(locale))[key]):
        parts.append(re.escape(text))
        if name is not None:
            parts.append(fields.get(name, ".+?"))
    return "".join(parts)


def text(key: str, locale: str) -> str:
    """A catalogue message without fields, as a regex matching it literally."""
    return re.escape(t(key, locale))


def steps_of(lines: list[str]) -> list[str]:
    """The transcript cut at its `### n. step` headings: what each step showed."""
    return re.split(r"^### \d+\. .*$", "\n".join(lines), flags=re.MULTILINE)[1:]


def has_line(pattern: str, text: str) -> bool:
    return re.search(rf"^{pattern}$", text, flags=re.MULTILINE) is not None


@pytest.mark.parametrize("locale", LOCALES)
async def test_the_happy_flow_shows_the_reply_the_card_in_each_state_and_the_video(
    locale: str, discord_openapi: None
) -> None:
    lines = await transcript("happy", locale)
    assert lines[0] == f"## happy — {locale}"
    queued, running, done = steps_of(lines)
    progress, cancel, details = (
        re.escape(t(key, locale)) for key in ("card.progress", "buttons.cancel", "buttons.details")
    )

    assert has_line(said("submit.done", locale, where=r"<#\d+>"), queued)
    assert has_line(rf"▌ \*\*{text('card.title', locale)}\*\*", queued)
    # Another member's job is ahead of this one: its place in the queue.
    assert has_line(f"▌ {progress}: {said('card.queue_place', locale, when=STAMP)}", queued)
    assert has_line(rf"\[{cancel}\] \[{details}\]", queued)
    assert has_line(said("thread.started", locale, mention=r"<@\d+>"), queued)

    started, likely = said("card.started", locale), said("card.estimate_done", locale)
    assert has_line(f"▌ {progress}: ▰▰▱{{8}} 25 % · {started} · {likely}", running)

    assert has_line(f"▌ {progress}: {said('card.done_in', locale)}", done)
    status, completed = text("card.status", locale), text("card.status_completed", locale)
    assert has_line(f"▌ {status}: {completed}", done)
    assert has_line(rf"\[.+\] \[{details}\] \[{text('buttons.watch', locale)} ↗\]", done)
    assert has_line(said("delivery.done", locale, mention=r"<@\d+>"), done)
    assert has_line(r"📎 storyboard-\d+\.mp4", done)
    assert re.search(said("card.done_in", locale), queued + running) is None


# What each other flow must show, beyond running to its end without an error.
KEY_LINES = {
    "moderation": lambda locale: [
        f"▌ {text('card.progress', locale)}: {text('moderation.copyright', locale)}",
        rf"\[{text('buttons.fix', locale)}\] \[{text('buttons.details', locale)}\]",
    ],
    "quota": lambda locale: [
        said("quota.user_jobs", locale, resets=STAMP),
        rf"\*\*{text('quota.title', locale)}\*\*",
    ],
    "draft": lambda locale: [
        rf"▌ \*\*{said('draft.panel_title', locale, title='The fridge monster')}\*\*",
        r"▌ \*\*2\.\*\* .*A purple monster steps out\..*",
    ],
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("flow", sorted(set(FLOWS) - {"happy"}))
async def test_every_flow_runs_in_each_language_and_each_step_shows_something(
    flow: str, locale: str, discord_openapi: None
) -> None:
    shown = "\n".join(await transcript(flow, locale))
    assert "_(nothing new)_" not in shown
    for pattern in KEY_LINES[flow](locale):
        assert has_line(pattern, shown), pattern
