"""Both catalogues hold the same keys with the same fields."""

from __future__ import annotations

import re

import pytest

from bot.i18n import SUPPORTED_LOCALES, catalogue, pick_locale, t


def fields(template: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", template))


def test_every_key_is_in_every_language_with_the_same_fields() -> None:
    english = catalogue("en-US")
    for locale in SUPPORTED_LOCALES:
        other = catalogue(locale)
        assert sorted(set(english) - set(other)) == [], f"missing in {locale}"
        assert sorted(set(other) - set(english)) == [], f"only in {locale}"
        for key, template in english.items():
            assert fields(other[key]) == fields(template), f"{locale} {key}"
            assert other[key].strip(), f"{locale} {key} is empty"


@pytest.mark.parametrize(
    ("discord_locale", "ours"),
    [("zh-CN", "zh-CN"), ("zh-TW", "zh-CN"), ("en-GB", "en-US"), ("fr", "en-US"), (None, "en-US")],
)
def test_pick_locale(discord_locale: str | None, ours: str) -> None:
    assert pick_locale(discord_locale) == ours


def test_t_fills_fields_and_falls_back_to_the_key() -> None:
    assert (
        t("storyboard.empty_scene", "zh-CN", shot=2)
        == "镜头 2 没有场景描述。请写下这个镜头里发生了什么。"
    )
    assert t("no.such.key", "en-US") == "no.such.key"
