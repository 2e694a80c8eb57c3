"""Make the Traditional Chinese (Taiwan) catalogues from the Simplified ones.

    python -m tools.make_zh_tw          write bot/locales/zh-TW*.toml
    python -m tools.make_zh_tw --check  exit 1 (naming the files) if they are not current

Each `bot/locales/zh-CN<part>.toml` becomes `zh-TW<part>.toml`, line by line, so the
comments and layout stay: OpenCC's `s2twp` (Taiwan words and phrases), then the glossary's
zh-TW words (`bot/locales/glossary.toml`), then `tools/zh_tw_overrides.toml` ([phrases]
everywhere, [keys] for whole texts). The bot reads the files written here and never needs
OpenCC; a test fails when they are not what this script makes from zh-CN today.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "bot" / "locales"
OVERRIDES = Path(__file__).with_name("zh_tw_overrides.toml")
HEADER = (
    "# 由 python -m tools.make_zh_tw 從 {source} 產生：請改 zh-CN 原文、glossary.toml 或\n"
    "# tools/zh_tw_overrides.toml，再重新產生；直接改這個檔案，測試會失敗。\n"
)
TABLE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
ENTRY = re.compile(r'^(\s*)([A-Za-z0-9_-]+|"[^"]*")(\s*=\s*)(".*")\s*$')

Convert = Callable[[str], str]


def _opencc() -> Convert:
    try:
        import opencc
    except ImportError:  # a dev dependency only: the bot reads the generated files
        sys.exit("OpenCC is needed: pip install -e '.[dev]' (or pip install opencc)")
    converter = opencc.OpenCC("s2twp")
    return lambda text: str(converter.convert(text))


def _load(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def phrase_table(convert: Convert) -> list[tuple[str, str]]:
    """(OpenCC's word, Taiwan's word), longest first so a phrase wins over its parts."""
    pairs: dict[str, str] = {}
    for term in _load(LOCALES / "glossary.toml")["term"]:
        theirs = convert(term["zh-CN"])
        if theirs != term["zh-TW"]:
            pairs[theirs] = term["zh-TW"]
    pairs.update(_load(OVERRIDES).get("phrases", {}))
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def key_texts() -> dict[str, str]:
    """[keys]: whole texts a reviewer wrote, by dotted key."""
    found: dict[str, str] = {}

    def walk(table: Mapping[str, Any], prefix: str) -> None:
        for name, value in table.items():
            if isinstance(value, Mapping):
                walk(value, f"{prefix}{name}.")
            else:
                found[f"{prefix}{name}"] = str(value)

    walk(_load(OVERRIDES).get("keys", {}), "")
    return found


def _apply(text: str, phrases: list[tuple[str, str]]) -> str:
    # One pass over all phrases at once: a replacement is never replaced again
    # (水印 → 浮水印 must not become 浮浮水印).
    if not phrases:
        return text
    pattern = re.compile("|".join(re.escape(old) for old, _ in phrases))
    table = dict(phrases)
    return pattern.sub(lambda m: table[m.group(0)], text)


def _dotted(table: str, name: str) -> str:
    parts = [p.strip().strip('"') for p in table.split(".")] if table else []
    return ".".join([*parts, name.strip('"')])


def convert_file(
    text: str, source: str, convert: Convert, phrases: list[tuple[str, str]], keys: dict[str, str]
) -> tuple[str, set[str]]:
    """The zh-TW file for one zh-CN file's text, and the [keys] it used."""
    out = [HEADER.format(source=source)]
    used: set[str] = set()
    table = ""
    lines = text.splitlines()
    # The source's own header says it is Simplified Chinese: ours replaces it.
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    for line in lines:
        if found := TABLE.match(line):
            table = found.group(1).strip()
        entry = ENTRY.match(line)
        key = _dotted(table, entry.group(2)) if entry else None
        if entry and key in keys:
            used.add(key)
            value = json.dumps(keys[key], ensure_ascii=False)
            out.append(f"{entry.group(1)}{entry.group(2)}{entry.group(3)}{value}\n")
            continue
        out.append(_apply(convert(line), phrases) + "\n")
    return "".join(out), used


def generated(convert: Convert | None = None) -> Iterator[tuple[Path, str]]:
    """(zh-TW path, its text) for every zh-CN catalogue file."""
    convert = convert or _opencc()
    phrases = phrase_table(convert)
    keys = key_texts()
    used: set[str] = set()
    for source in sorted(LOCALES.glob("zh-CN*.toml")):
        if source.name != "zh-CN.toml" and not source.name.startswith("zh-CN."):
            continue
        target = source.with_name("zh-TW" + source.name.removeprefix("zh-CN"))
        text, mine = convert_file(
            source.read_text(encoding="utf-8"), source.name, convert, phrases, keys
        )
        used |= mine
        yield target, text
    stale = sorted(set(keys) - used)
    if stale:
        raise SystemExit(f"{OVERRIDES.name} [keys] names keys zh-CN does not have: {stale}")


def stale_files(convert: Convert | None = None) -> list[str]:
    """Names of zh-TW files that differ from what would be generated, or should not exist."""
    wanted = dict(generated(convert))
    problems = [
        path.name
        for path, text in wanted.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    for path in LOCALES.glob("zh-TW*.toml"):
        if path not in wanted:
            problems.append(f"{path.name} (no zh-CN source)")
    return sorted(problems)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.make_zh_tw", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say whether files are current")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("not current (run python -m tools.make_zh_tw):", ", ".join(stale))
            return 1
        return 0
    for path, text in generated():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
