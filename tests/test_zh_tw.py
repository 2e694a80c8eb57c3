"""Traditional Chinese (Taiwan): a catalogue generated from zh-CN, checked in, kept current.

- Every zh-CN key is in zh-TW (and no other), with the same fields.
- The checked-in zh-TW files are what `python -m tools.make_zh_tw` makes from zh-CN today:
  a zh-CN text changed without regenerating fails here, as does a hand edit of a zh-TW file
  (a reviewer's wording goes in tools/zh_tw_overrides.toml, which the generator applies).
- The generator's fixes: glossary words, [phrases] (once, never twice), [keys].
- A member whose Discord is in zh-TW gets it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.i18n import catalogue, pick_locale, t
from tools import make_zh_tw
from tools.make_zh_tw import convert_file, phrase_table, stale_files


def fields(template: str) -> set[str]:
    return set(re.findall(r"{(\w+)", template))


def test_zh_tw_has_every_zh_cn_key_with_the_same_fields() -> None:
    simplified, traditional = catalogue("zh-CN"), catalogue("zh-TW")
    assert sorted(set(simplified) - set(traditional)) == [], "run python -m tools.make_zh_tw"
    assert sorted(set(traditional) - set(simplified)) == []
    for key, text in simplified.items():
        assert fields(traditional[key]) == fields(text), key


def test_the_zh_tw_files_are_what_the_generator_makes() -> None:
    assert stale_files() == [], "run python -m tools.make_zh_tw"


def test_a_stale_or_hand_edited_zh_tw_file_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above, against a converter that disagrees with one line of the files."""
    real = make_zh_tw._opencc()

    def off_by_one(text: str) -> str:
        return real(text).replace("分鏡影片", "分鏡視頻")

    assert "zh-TW.toml" in stale_files(off_by_one)


def fake_convert(table: dict[str, str]) -> Callable[[str], str]:
    def convert(text: str) -> str:
        for old, new in table.items():
            text = text.replace(old, new)
        return text

    return convert


def test_the_generator_applies_glossary_words_phrases_and_keys() -> None:
    convert = fake_convert({"身份组": "身份組", "脚本": "指令碼", "水印": "水印", "视频": "影片"})
    phrases = phrase_table(convert)
    source = (
        "# 说明\n"
        "[a]\n"
        'role = "需要身份组"\n'
        'script = "分镜脚本"\n'
        'mark = "水印：{watermark}"\n'
        "[b.c]\n"
        'mine = "原文"\n'
    )
    text, used = convert_file(source, "zh-CN.x.toml", convert, phrases, {"b.c.mine": "審過的"})
    assert 'role = "需要身分組"' in text  # the glossary's zh-TW word
    # The glossary's 分镜 → 分鏡; [phrases]: 指令碼 is a computer's script, not a film's.
    assert 'script = "分鏡腳本"' in text
    assert 'mark = "浮水印：{watermark}"' in text  # replaced once, not 浮浮水印
    assert 'mine = "審過的"' in text  # [keys]
    assert used == {"b.c.mine"}
    assert "# 说明" not in text  # the source's header is replaced by ours
    assert text.startswith("# 由 python -m tools.make_zh_tw 從 zh-CN.x.toml 產生")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("card.title", "分鏡影片"),
        ("card.footer", "影片 #3"),
        ("card.landscape", "橫式"),
        ("access.role", "你需要以下身分組之一才能在這裡使用機器人：x"),
        ("perm.send_messages", "傳送訊息和建立貼文"),
        ("perm.create_public_threads", "建立公開討論串"),
        ("quota.user_jobs", "今日生成額度（5 個）已用完，明天重置。"),
        ("jobs.not_yours", "只有 x 或擁有「管理訊息」權限的成員可以這樣做。"),
    ],
)
def test_taiwan_words_where_opencc_says_otherwise(key: str, expected: str) -> None:
    text = t(key, "zh-TW", job=3, roles="x", limit=5, resets="明天", mention="x")
    assert text == expected


def test_discords_zh_tw_gets_traditional_chinese() -> None:
    assert pick_locale("zh-TW") == "zh-TW"
    assert t("buttons.remix", "zh-TW") == "修改重做"
    assert t("card.requested_by", "zh-TW") == "發起人"
    assert t("card.requested_by", "zh-CN") == "发起人"
