"""Both catalogues hold the same keys with the same fields."""

from __future__ import annotations

import re

import pytest

from bot.i18n import SUPPORTED_LOCALES, catalogue, pick_locale, public_locale, t


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
    [
        ("zh-CN", "zh-CN"),
        ("zh-TW", "zh-TW"),
        ("en-GB", "en-US"),
        ("fr", "en-US"),
        (None, "en-US"),
    ],
)
def test_pick_locale(discord_locale: str | None, ours: str) -> None:
    assert pick_locale(discord_locale) == ours


def test_t_fills_fields_and_falls_back_to_the_key() -> None:
    assert (
        t("storyboard.empty_scene", "zh-CN", shot=2)
        == "镜头 2 没有画面描述，请写下这个镜头里发生了什么。"
    )
    assert t("no.such.key", "en-US") == "no.such.key"


def test_lists_are_joined_as_each_language_joins_them() -> None:
    models = ("sora-2", "sora-2-pro")
    assert t("help.models", "en-US", models=models) == "Models: sora-2, sora-2-pro."
    assert t("help.models", "zh-CN", models=models) == "模型：sora-2、sora-2-pro。"
    assert t("help.models", "zh-TW", models=models) == "模型：sora-2、sora-2-pro。"


@pytest.mark.parametrize(("n", "english"), [(1, "1 video"), (2, "2 videos")])
def test_english_says_its_plurals_and_chinese_has_none(n: int, english: str) -> None:
    assert t("quota.user_jobs", "en-US", limit=n, resets="soon") == (
        f"You have made your {english} for today. Your quota resets soon."
    )
    assert t("quota.user_jobs", "zh-CN", limit=n, resets="明天") == (
        f"今日生成额度（{n} 个）已用完，明天重置。"
    )


@pytest.mark.parametrize(
    ("configured", "guild", "expected"),
    [
        ("zh-TW", "en-US", "zh-TW"),  # the server's setting wins
        (None, "zh-CN", "zh-CN"),  # else the server's Discord language
        (None, "zh-TW", "zh-TW"),
        (None, "ja", "en-US"),  # a language we don't have: English
        (None, None, "en-US"),
    ],
)
def test_public_locale(configured: str | None, guild: str | None, expected: str) -> None:
    assert public_locale(configured, guild) == expected
