"""Every Chinese catalogue string reads as Chinese (the static half of issue 14's check;
tests/test_chinese_e2e.py walks every flow and checks what members actually read)."""

from __future__ import annotations

import pytest

from bot.i18n import catalogue
from tests.chinese_text import chinese_problems


@pytest.mark.parametrize("locale", ["zh-CN", "zh-TW"])
def test_every_chinese_string_reads_as_chinese(locale: str) -> None:
    problems = [
        f"{key}: {text!r}: {problem}"
        for key, text in catalogue(locale).items()
        for problem in chinese_problems(text)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("你的视频 is ready。", "English words 'is ready'"),
        ("请填写 开始,结束 的秒数", "ASCII punctuation in '始,结'"),
        ("镜头 1:画面", None),  # a digit, not a Chinese character, before the colon
        ("分镜有镜头:画面", "ASCII punctuation in '头:画'"),
        ("已提交。 请看子区。", "a space after '。'"),
        ("用 `Shot N: … Scene:` 的格式", None),  # a code span
        ("模型 sora-2-pro，10 秒，3.1 MB", None),  # a model name and units
        ("任务 ID `sora-2:task_01` · <t:1796256000:R>提交", None),  # ids and timestamps
        ("用 /storyboard 或 /video status 查看", None),  # commands
        ("服务商返回：Prompt violates policy（代码 x）", "English words 'Prompt violates policy'"),
    ],
)
def test_the_check_finds_what_it_should(text: str, found: str | None) -> None:
    problems = chinese_problems(text)
    if found is None:
        assert problems == []
    else:
        assert found in problems
