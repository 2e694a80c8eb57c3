"""Make the font the animatic draws with: a subset of Noto Sans CJK SC (SIL OFL 1.1).

    apt-get install fonts-noto-cjk       # the source: Debian's Noto Sans CJK 2.004
    pip install fonttools                # in the dev extra
    python -m tools.make_cjk_font        # writes bot/fonts/NotoSansCJKsc-Regular-subset.otf

Why a subset shipped in the package rather than a system font: the bot must draw Chinese
on a machine set up with `pip install` alone, and Debian's `fonts-noto-cjk` is 91 MB
installed (`fonts-wqy-microhei`, 5 MB, is a system package all the same). The subset
keeps what zh-CN, zh-TW and English scenes use:

- every hanzi of GB2312 (6,763: the 3,500 common characters of mainland schooling and
  nearly all of the 7,000 in general use) and of Big5's first level (5,401, Taiwan's
  frequently used characters), 8,836 in all;
- Latin (ASCII, Latin-1, Latin Extended-A), Greek and Cyrillic, general punctuation,
  arrows, circled numbers, a few symbols, CJK punctuation, kana, bopomofo and the
  full-width forms.

Hinting and the vertical-writing tables are dropped (the animatic draws at 20-60 px,
horizontally), which brings it to about 4 MB. A character outside the subset is drawn as
〓 (`bot.animatic`), never as an empty box. The SC face draws traditional characters too,
with mainland glyph shapes for the few that differ by region.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# The collection's faces: JP, KR, SC, TC, HK, then the monospaced ones.
SC_FACE = 2
OUTPUT = ROOT / "bot" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
# Everything but hanzi, as code point ranges (the subsetter skips what the font lacks).
RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x017F),  # Latin-1, Latin Extended-A
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x04FF),  # Cyrillic
    (0x2000, 0x206F),  # general punctuation: — … ‘ ’ “ ” ‰ ※
    (0x20A0, 0x20CF),  # currency: €
    (0x2100, 0x214F),  # letterlike: ℃ №
    (0x2190, 0x21FF),  # arrows
    (0x2460, 0x24FF),  # circled numbers: ① ②
    (0x25A0, 0x25FF),  # geometric shapes: ○ ● □ ■ △
    (0x2600, 0x26FF),  # symbols: ★ ☆ ♪
    (0x3000, 0x30FF),  # CJK punctuation (with 〓), hiragana, katakana
    (0x3100, 0x312F),  # bopomofo
    (0x31A0, 0x31BF),  # bopomofo extended
    (0xFF00, 0xFFEF),  # full-width and half-width forms
)


def gb2312_hanzi() -> set[str]:
    """The 6,763 hanzi of GB2312 (rows 16-87)."""
    found = set()
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def big5_common_hanzi() -> set[str]:
    """The 5,401 hanzi of Big5's first level (0xA440-0xC67E), Taiwan's frequently used."""
    found = set()
    for high in range(0xA4, 0xC7):
        for low in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            try:
                char = bytes([high, low]).decode("big5")
            except UnicodeDecodeError:
                continue
            if "\u4e00" <= char <= "\u9fff":
                found.add(char)
    return found


def hanzi() -> str:
    """Every hanzi the subset keeps, in code point order."""
    return "".join(sorted(gb2312_hanzi() | big5_common_hanzi()))


def subset_argv(source: Path, output: Path, text_file: Path) -> list[str]:
    unicodes = ",".join(f"U+{low:04X}-{high:04X}" for low, high in RANGES)
    return [
        sys.executable,
        "-m",
        "fontTools.subset",
        str(source),
        f"--font-number={SC_FACE}",
        f"--text-file={text_file}",
        f"--unicodes={unicodes}",
        "--no-hinting",
        "--drop-tables+=vhea,vmtx,VORG,BASE",
        # Keep the copyright and the licence (name IDs 0, 13, 14) with the names.
        "--name-IDs=*",
        f"--output-file={output}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.make_cjk_font", description=__doc__)
    parser.add_argument("--source", type=Path, default=SOURCE, help="Noto Sans CJK .ttc")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if not args.source.exists():
        sys.exit(f"{args.source} is missing: apt-get install fonts-noto-cjk")
    if importlib.util.find_spec("fontTools") is None:  # dev only: the bot reads the result
        sys.exit("fontTools is needed: pip install -e '.[dev]' (or pip install fonttools)")
    text_file = args.output.with_suffix(".chars.txt")
    text_file.write_text(hanzi(), encoding="utf-8")
    try:
        subprocess.run(subset_argv(args.source, args.output, text_file), check=True)
    finally:
        text_file.unlink()
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
