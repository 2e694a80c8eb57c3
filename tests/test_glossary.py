"""Every catalogue string says each thing with the glossary's word (`bot/locales/glossary.toml`).

Where a key's English text names a thing the glossary lists (a role, a character, the
storyboard, a quota...), its zh-CN and zh-TW texts use the glossary's word for it, and not
a word the glossary rules out (no 角色 for a Discord role). Some wrong words are ruled
out everywhere (故事板, 配额, 所有者, 丢弃, 任务 other than 任务 ID).
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from typing import Any

import pytest

from bot.i18n import LOCALES_DIR, catalogue

CHINESE = ("zh-CN", "zh-TW")
# Not words of the text: fields (`{scene}`, `{n:video|videos}`), code spans, commands.
NOT_WORDS = re.compile(r"\{\w+(?::[^}]*)?\}|`[^`]*`|/[\w-]+")


@cache
def terms() -> list[dict[str, Any]]:
    with (LOCALES_DIR / "glossary.toml").open("rb") as fh:
        found: list[dict[str, Any]] = tomllib.load(fh)["term"]
    return found


def mismatches(term: dict[str, Any], english: dict[str, str], locale: str) -> list[str]:
    """Keys where `term` applies in English and `locale` does not use its word."""
    texts = catalogue(locale)
    wanted = term[locale]
    pattern = re.compile(term["match"], re.IGNORECASE)
    problems: list[str] = []
    for key, text in english.items():
        words = NOT_WORDS.sub(" ", text)
        if key in term.get("skip", []) or not pattern.search(words) or key not in texts:
            continue
        mine = texts[key]
        if wanted not in mine:
            problems.append(f"{locale} {key}: {mine!r} lacks {wanted!r} ({term['term']})")
        if locale == "zh-CN":
            problems += [
                f"{locale} {key}: {mine!r} says {bad!r} for {term['term']}"
                for bad in term.get("avoid", [])
                if bad in mine
            ]
    return problems


def forbidden(term: dict[str, Any], locale: str) -> list[str]:
    rules = term.get("never" if locale == "zh-CN" else "never_tw", [])
    return [
        f"{locale} {key}: {text!r} has {rule!r} ({term['term']})"
        for rule in rules
        for key, text in catalogue(locale).items()
        if re.search(rule, text)
    ]


def test_the_glossary_is_well_formed() -> None:
    required = {"term", "en", "zh-CN", "zh-TW", "where", "match"}
    allowed = required | {"skip", "avoid", "never", "never_tw"}
    english = catalogue("en-US")
    for term in terms():
        assert required <= term.keys() <= allowed, term["term"]
        re.compile(term["match"])
        for key in term.get("skip", []):
            assert key in english, f"{term['term']}: skip names no key {key}"
    assert len({t["term"] for t in terms()}) == len(terms())
    for term in terms():  # a rule that finds nothing checks nothing
        pattern = re.compile(term["match"], re.IGNORECASE)
        assert any(pattern.search(NOT_WORDS.sub(" ", s)) for s in english.values()), term["term"]


@pytest.mark.parametrize("locale", CHINESE)
def test_every_string_uses_the_glossarys_word(locale: str) -> None:
    english = catalogue("en-US")
    problems = [p for term in terms() for p in mismatches(term, english, locale)]
    assert problems == []


@pytest.mark.parametrize("locale", CHINESE)
def test_no_string_uses_a_word_the_glossary_rules_out(locale: str) -> None:
    problems = [p for term in terms() for p in forbidden(term, locale)]
    assert problems == []


def test_the_checks_catch_a_wrong_word() -> None:
    """The checks themselves, on made-up catalogues: 角色 for a role, 故事板, 任务 #3."""
    english = {"a": "You need one of these roles: {roles}", "b": "Video #{job} is ready."}
    role = next(t for t in terms() if t["en"] == "role")
    found = mismatches(role, english, "zh-CN")
    assert found == []  # no such key in the real zh-CN catalogue: nothing to compare
    real = catalogue("zh-CN")
    key = "access.role"
    assert real[key].startswith("你需要以下身份组")
    wrong = dict(english, **{key: "You need one of these roles to use the bot here: {roles}"})
    original = real[key]
    try:
        real[key] = "你需要以下角色之一才能在这里使用机器人：{roles}"
        found = mismatches(role, wrong, "zh-CN")
        story = next(t for t in terms() if t["en"] == "storyboard")
        real[key] = "这份故事板已经提交过了（任务 #3）。"
        ruled_out = forbidden(story, "zh-CN")
        video = next(t for t in terms() if t["en"] == "video #12")
        ruled_out += forbidden(video, "zh-CN")
    finally:
        real[key] = original
    assert any("lacks '身份组'" in p for p in found)
    assert any("says '角色'" in p for p in found)
    assert any("'故事板'" in p for p in ruled_out)
    assert any("任务" in p for p in ruled_out)
