"""What makes a Chinese text read as Chinese, as a check the tests share.

A text fails on:
- a run of two or more English words once data is taken out: ids (#12, task ids in
  code spans), model names (sora-2), code spans and fenced blocks, units (MB, KB), Discord
  mentions and timestamps, links, commands (/storyboard), the [5s] mark, file formats;
- ASCII punctuation between two Chinese characters ("开始,结束", "镜头 1: 画面");
- a space after a Chinese full stop, comma or colon in the middle of a line ("。 请").
"""

from __future__ import annotations

import re

CJK = r"\u3400-\u9fff\uf900-\ufaff"
# Data, not language: what stays as it is in any language.
NOT_LANGUAGE = re.compile(
    r"```.*?```"  # a fenced block: a prompt as sent, an example to copy
    r"|`[^`\n]*`"  # a code span: a task id, an option name, `Shot 1:`
    r"|<(?:@[!&]?|#)\d+>|<t:\d+(?::[tTdDfFR])?>"  # mentions, channels, timestamps
    r"|https?://\S+"  # links
    r"|\{\w+(?::[^}]*)?\}"  # a catalogue field, before it is filled in
    r"|(?<![\w/])/[a-z][\w-]*(?: [a-z][\w-]*)?"  # a command: /storyboard, /video status
    r"|\bsora-2(?:-pro)?\b|\bgpt-[\w.-]+"  # model names
    r"|\[\d+\s?s\]"  # the [5s] mark
    r"|\b\d+(?:\.\d+)? ?(?:MB|KB|MiB|GB|s|px)\b"  # units after a number
    r"|\b(?:PNG|JPEG|WebP|HEIC|AVIF|API|Discord|Storyboard|config\.toml)\b",  # names
    re.DOTALL,
)
ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ \t,.;:!?()\"&-]+[A-Za-z][A-Za-z'’-]*)+")
ASCII_BETWEEN_CJK = re.compile(rf"[{CJK}][ \t]*[,.:;!?()\"'][ \t]*[{CJK}]")
SPACE_AFTER_STOP = re.compile(r"[。，：；！？、] +(?=\S)")


def chinese_problems(text: str) -> list[str]:
    """Why `text` does not read as Chinese; empty when it does."""
    # A mark, not a space: "：{when}" must not read as a space after the colon.
    residue = NOT_LANGUAGE.sub("○", text)
    problems = [f"English words {run!r}" for run in ENGLISH_RUN.findall(residue)]
    problems += [f"ASCII punctuation in {m!r}" for m in ASCII_BETWEEN_CJK.findall(residue)]
    problems += [f"a space after {m.strip()!r}" for m in SPACE_AFTER_STOP.findall(residue)]
    return problems
