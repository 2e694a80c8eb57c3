"""One keyed catalogue per language, read from `bot/locales/<locale>*.toml`.

A language may be split over several files (`zh-CN.toml`, `zh-CN.drafts.toml`);
a key defined twice is an error. Nested TOML tables become dotted keys (`[storyboard] empty_scene = ...` is
`storyboard.empty_scene`). Messages use `str.format` fields. A locale we do not
have falls back to English, key by key.

Two things no language should build in code: a list field (a tuple or list) is joined
with the language's `list.separator` (", " or "、"), and a whole-number field can pick
its English plural in the text itself: `{count} {count:video|videos}`.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).with_name("locales")
DEFAULT_LOCALE = "en-US"
SUPPORTED_LOCALES = ("en-US", "zh-CN", "zh-TW")


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
    """Map a Discord locale (`zh-CN`, `zh-TW`, `en-GB`, ...) to one we have."""
    if not discord_locale:
        return DEFAULT_LOCALE
    if discord_locale in SUPPORTED_LOCALES:
        return discord_locale
    if discord_locale.startswith("zh"):
        # Discord has only zh-CN and zh-TW; any other Chinese reads Simplified.
        return "zh-TW" if discord_locale in ("zh-HK", "zh-MO") else "zh-CN"
    return DEFAULT_LOCALE


def public_locale(configured: str | None, guild_preferred: str | None) -> str:
    """The language of what everyone in a server reads (cards, threads, deliveries,
    draft panels): the server's `locale` setting, else its Discord "preferred locale"
    (Server Settings → Community), else English. Replies only the member sees follow
    the member's own Discord language instead."""
    return pick_locale(configured or guild_preferred)


class Count(int):
    """A whole number that can say its English plural: `{n:video|videos}`."""

    def __format__(self, spec: str) -> str:
        if "|" in spec:
            one, _, other = spec.partition("|")
            return one if self == 1 else other
        return format(int(self), spec)


def _field(value: object, locale: str) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return Count(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        separator = catalogue(locale).get("list.separator", ", ")
        return separator.join(str(v) for v in value)
    return value


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
        return template.format(**{k: _field(v, chosen) for k, v in fields.items()})
    except (KeyError, IndexError, ValueError):
        log.error("message %s in %s lacks a field; given %s", key, chosen, sorted(fields))
        return template
