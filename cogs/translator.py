"""Command metadata (descriptions, option descriptions, choice names) from the catalogues.

Every translatable string in a command decorator is a `locale_str` whose message is the
English text (what discord.py sends as the default) and whose `key` extra names the
catalogue entry, e.g. `locale_str("Make a video", key="commands.storyboard.description")`.
The keys live under `[commands]` in `bot/locales/<locale>.commands.toml`:

    commands.<command path>.description          /storyboard, /video, /video status
    commands.<command path>.options.<option>     an option's description
    commands.<command path>.choices.<option>.<value>   a choice's name
    commands.<command path>.names.<option>       an option's localised name (时长, 方向...)

where `<command path>` is the qualified name with spaces as dots (`video.status`).
Command names stay ASCII; the default option names too (the payload always carries
them), with localised names where a `locale_str` name has a key (`app_commands.rename`).

Discord asks for every locale it knows; we answer for the languages we have (zh-CN and
zh-TW each get their own catalogue, `bot.i18n.pick_locale`) and return None otherwise,
so Discord shows the English default.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import DEFAULT_LOCALE, catalogue, pick_locale

log = logging.getLogger(__name__)


class CatalogueTranslator(app_commands.Translator):
    """Looks `string.extras["key"]` up in the catalogue of the Discord locale's language."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if not isinstance(key, str):
            return None
        language = pick_locale(locale.value)
        if language == DEFAULT_LOCALE:
            # The English text is already the default discord.py sends.
            return None
        text = catalogue(language).get(key)
        if text is None:
            log.debug("no %s text for %s (%s)", language, key, context.location.name)
        return text


async def setup(bot: commands.Bot) -> None:
    """Loaded first (`bot.bot.EXTENSIONS`): every command synced after it is translated."""
    await bot.tree.set_translator(CatalogueTranslator())
