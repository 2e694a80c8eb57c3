"""One keyed catalogue per language, read from `bot/locales/<locale>*.toml`.

A language may be split over several files (`zh-CN.toml`, `zh-CN.drafts.toml`);
a key defined twice is an error. Nested TOML tables become dotted keys (`[storyboard] empty_scene = ...` is
`storyboard.empty_scene`). Messages use `str.format` fields. A locale we do not
have falls back to English, key by key.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).with_name("locales")
DEFAULT_LOCALE = "en-US"
SUPPORTED_LOCALES = ("en-US", "zh-CN")


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = str(value)
    return flat


@cache
def catalogue(locale: str) -> dict[str, str]:
    """All messages of one supported locale, by dotted key."""
    merged: dict[str, str] = {}
    for path in sorted(LOCALES_DIR.glob(f"{locale}*.toml")):
        if path.name != f"{locale}.toml" and not path.name.startswith(f"{locale}."):
            continue
        with path.open("rb") as fh:
            part = _flatten(tomllib.load(fh))
        clash = merged.keys() & part.keys()
        if clash:
            raise ValueError(f"{path.name} defines {sorted(clash)} again")
        merged.update(part)
    return merged


def pick_locale(discord_locale: str | None) -> str:
    """Map a Discord locale (`zh-CN`, `en-GB`, ...) to one we have."""
    if discord_locale and discord_locale.startswith("zh"):
        return "zh-CN"
    return DEFAULT_LOCALE


def has(key: str, locale: str = DEFAULT_LOCALE) -> bool:
    return key in catalogue(pick_locale(locale))


def t(key: str, locale: str | None = DEFAULT_LOCALE, /, **fields: object) -> str:
    """The message `key` in `locale`, with `fields` filled in.

    A missing key is a bug caught by tests, but at run time the key itself is
    shown rather than raising in the middle of answering a member.
    """
    chosen = pick_locale(locale)
    template = catalogue(chosen).get(key) or catalogue(DEFAULT_LOCALE).get(key)
    if template is None:
        return key
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError):
        log.error("message %s in %s lacks a field; given %s", key, chosen, sorted(fields))
        return template
