"""The command tree as the fake Discord received it at sync, and a whole flow in Chinese.

- Every command passes Discord's limits in every locale (names, lengths, counts, order).
- /storyboard and /video have a zh-CN and a zh-TW text for every description and choice, and
  the option names Discord lets us localise (时长, 方向...), under the keys of
  `bot/locales/<locale>.commands.toml` (see `cogs/translator.py` for the scheme).
- A member whose Discord is in Chinese, in a server whose language is Chinese, sees only
  Chinese from /storyboard to the delivery.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.i18n import catalogue
from cogs.translator import CatalogueTranslator
from tests.fake_discord import RecordedCall
from tests.fake_discord.standard import TEXT_CHANNEL_ID
from tests.harness import SEND, THREAD_FROM_MESSAGE, World, followup_text
from tests.test_governance_e2e import with_guild

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"

JSON = dict[str, Any]

# Discord's locales (https://discord.com/developers/docs/reference#locales).
DISCORD_LOCALES = frozenset(
    "id da de en-GB en-US es-ES es-419 fr hr it lt hu nl no pl pt-BR ro fi sv-SE vi tr cs el "  # noqa: SIM905
    "bg ru uk hi th zh-CN ja zh-TW ko".split()
)
# Our own rule for chat input command and option names: ASCII, lowercase.
ASCII_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
SUBCOMMAND, GROUP = 1, 2
CHAT_INPUT = 1
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_COMMAND_CHARS = 4000

# Top-level commands whose owners have not localised them yet. Shrink this set; a command
# added to the tree without zh-CN texts fails `test_every_description_and_choice_has_zh_cn`.
NOT_YET_LOCALISED: frozenset[str] = frozenset()

CJK = re.compile(r"[\u3400-\u9fff]")


def synced_commands(world: World) -> list[JSON]:
    """Every command the bot put, in every scope (a command in several scopes counts once)."""
    seen: dict[tuple[str, int], JSON] = {}
    for commands in world.fd.commands.values():
        for command in commands:
            seen.setdefault((command["name"], command.get("type", CHAT_INPUT)), command)
    assert seen, "the bot synced no commands"
    return list(seen.values())


def localised(node: JSON, field: str) -> dict[str, str]:
    return dict(node.get(f"{field}_localizations") or {})


def every_text(node: JSON, field: str) -> list[tuple[str, str]]:
    """(locale, text) for the default and every localisation of `field`."""
    return [("default", node[field]), *localised(node, field).items()]


def nodes(command: JSON) -> Iterator[tuple[str, JSON]]:
    """The command and all its options, subcommands and groups, with a readable path."""
    yield command["name"], command
    stack = [(command["name"], o) for o in command.get("options") or []]
    while stack:
        path, node = stack.pop(0)
        here = f"{path} {node['name']}"
        yield here, node
        stack += [(here, o) for o in node.get("options") or []]


def discord_name_ok(name: str) -> bool:
    """Discord's `^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`, lowercase where it can be."""
    if not 1 <= len(name) <= 32 or name != name.lower():
        return False
    for ch in name:
        deva_or_thai = (
            "\u0900" <= ch <= "\u097f" or "\ua8e0" <= ch <= "\ua8ff" or "\u0e00" <= ch <= "\u0e7f"
        )
        if ch not in "-_" and unicodedata.category(ch)[0] not in "LN" and not deva_or_thai:
            return False
    return True


def command_chars(command: JSON) -> int:
    """What Discord counts towards the 4000 characters of a command: names, descriptions,
    choice names and values, taking the longest localisation of each field."""

    def longest(node: JSON, field: str) -> int:
        return max(len(text) for _, text in every_text(node, field))

    total = 0
    for _, node in nodes(command):
        total += longest(node, "name") + longest(node, "description")
        for choice in node.get("choices") or []:
            total += longest(choice, "name") + len(str(choice["value"]))
    return total


def limit_problems(command: JSON) -> list[str]:
    problems: list[str] = []
    chat_input = command.get("type", CHAT_INPUT) == CHAT_INPUT
    if not chat_input:  # context menus: free-form name, no description, no options
        for locale, name in every_text(command, "name"):
            if not 1 <= len(name) <= 32:
                problems.append(f"{command['name']!r}: {locale} name must be 1..32 characters")
        if set(localised(command, "name")) - DISCORD_LOCALES:
            problems.append(f"{command['name']!r}: name_localizations has unknown locales")
        if command.get("description"):
            problems.append(f"{command['name']!r}: a context menu has no description")
    for path, node in nodes(command) if chat_input else []:
        if not ASCII_NAME.match(node["name"]):
            problems.append(f"/{path}: name {node['name']!r} is not ^[-_a-z0-9]{{1,32}}$")
        for field in ("name", "description"):
            bad_keys = set(localised(node, field)) - DISCORD_LOCALES
            if bad_keys:
                problems.append(f"/{path}: {field}_localizations has {sorted(bad_keys)}")
        for locale, name in localised(node, "name").items():
            if not discord_name_ok(name):
                problems.append(f"/{path}: {locale} name {name!r} breaks Discord's name rule")
        for locale, text in every_text(node, "description"):
            if not 1 <= len(text) <= 100:
                problems.append(f"/{path}: {locale} description is {len(text)} characters")
        options = node.get("options") or []
        if len(options) > MAX_OPTIONS:
            problems.append(f"/{path}: {len(options)} options")
        leaves = [o for o in options if o["type"] not in (SUBCOMMAND, GROUP)]
        if leaves and len(leaves) != len(options):
            problems.append(f"/{path}: mixes subcommands and options")
        required = [bool(o.get("required")) for o in leaves]
        if required != sorted(required, reverse=True):
            problems.append(f"/{path}: a required option comes after an optional one")
        choices = node.get("choices") or []
        if len(choices) > MAX_CHOICES:
            problems.append(f"/{path}: {len(choices)} choices")
        for choice in choices:
            if set(localised(choice, "name")) - DISCORD_LOCALES:
                problems.append(f"/{path}: choice {choice['value']!r} has unknown locales")
            for locale, text in every_text(choice, "name"):
                if not 1 <= len(text) <= 100:
                    problems.append(f"/{path}: {locale} choice name {text!r} is not 1..100")
            if isinstance(choice["value"], str) and not 1 <= len(choice["value"]) <= 100:
                problems.append(f"/{path}: choice value {choice['value']!r} is not 1..100")
    size = command_chars(command)
    if size > MAX_COMMAND_CHARS:
        problems.append(f"/{command['name']}: {size} characters in all (the most is 4000)")
    return problems


def catalogue_texts(command: JSON) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(key, English default, localisations) of every translatable text, keyed by the scheme
    `commands.<path>.description`, `commands.<path>.options.<option>`,
    `commands.<path>.choices.<option>.<value>` (path: the qualified name with dots); a context
    menu's name is `commands.<name, lowercase, spaces as _>.name`."""
    if command.get("type", CHAT_INPUT) != CHAT_INPUT:
        slug = command["name"].lower().replace(" ", "_")
        yield f"commands.{slug}.name", command["name"], localised(command, "name")
        return

    def walk(path: str, node: JSON) -> Iterator[tuple[str, str, dict[str, str]]]:
        yield f"commands.{path}.description", node["description"], localised(node, "description")
        for option in node.get("options") or []:
            if option["type"] in (SUBCOMMAND, GROUP):
                yield from walk(f"{path}.{option['name']}", option)
                continue
            key = f"commands.{path}.options.{option['name']}"
            yield key, option["description"], localised(option, "description")
            for choice in option.get("choices") or []:
                key = f"commands.{path}.choices.{option['name']}.{choice['value']}"
                yield key, choice["name"], localised(choice, "name")

    yield from walk(command["name"], command)


def name_texts(command: JSON) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(key, ASCII name, localisations) of every option name that has localisations, keyed
    `commands.<path>.names.<option>`."""
    if command.get("type", CHAT_INPUT) != CHAT_INPUT:
        return

    def walk(path: str, node: JSON) -> Iterator[tuple[str, str, dict[str, str]]]:
        for option in node.get("options") or []:
            if option["type"] in (SUBCOMMAND, GROUP):
                yield from walk(f"{path}.{option['name']}", option)
            elif localised(option, "name"):
                key = f"commands.{path}.names.{option['name']}"
                yield key, option["name"], localised(option, "name")

    yield from walk(command["name"], command)


# (a) Discord's limits


async def test_the_synced_tree_is_within_discords_limits(world: World) -> None:
    commands = synced_commands(world)
    assert {"storyboard", "video"} <= {c["name"] for c in commands}
    problems = [p for c in commands for p in limit_problems(c)]
    assert problems == []


def test_the_limit_checks_catch_what_discord_refuses() -> None:
    """The checker itself: a command breaking each rule once."""
    bad: JSON = {
        "type": 1,
        "name": "Bad Name",
        "description": "",
        "description_localizations": {"zh": "短", "zh-CN": "x" * 101},
        "options": [
            {"type": 3, "name": "late", "description": "d", "required": False},
            {
                "type": 3,
                "name": "early",
                "description": "d",
                "required": True,
                "name_localizations": {"zh-CN": "大写Name"},
                "choices": [{"name": "", "value": str(n)} for n in range(26)],
            },
        ],
    }
    found = "\n".join(limit_problems(bad))
    for expected in (
        "name 'Bad Name'",
        "description_localizations has ['zh']",
        "default description is 0",
        "zh-CN description is 101",
        "required option comes after",
        "26 choices",
        "breaks Discord's name rule",
        "choice name '' is not",
    ):
        assert expected in found
    huge: JSON = {"type": 1, "name": "huge", "description": "d" * 100, "options": []}
    huge["options"] = [
        {"type": 3, "name": f"o{n}", "description": "d" * 100, "required": False} for n in range(25)
    ]
    huge["options"][0]["choices"] = [{"name": "c" * 100, "value": "v" * 100}] * 25
    assert any("characters in all" in p for p in limit_problems(huge))
    assert discord_name_ok("名称") and discord_name_ok("नाम") and not discord_name_ok("a b")


# (b) zh-CN and zh-TW for every command, option and choice


async def test_every_description_and_choice_has_zh_cn(world: World) -> None:
    english, chinese = catalogue("en-US"), catalogue("zh-CN")
    traditional = catalogue("zh-TW")
    missing: list[str] = []
    for command in synced_commands(world):
        if command["name"] in NOT_YET_LOCALISED:
            continue
        for key, default, localisations in catalogue_texts(command):
            zh = localisations.get("zh-CN")
            if zh is None:
                missing.append(f"{key} ({default!r}) has no zh-CN text")
                continue
            assert english.get(key) == default, f"{key}: en-US catalogue and code disagree"
            assert chinese.get(key) == zh, f"{key}: not the zh-CN catalogue text"
            assert CJK.search(zh) and zh != default, f"{key}: {zh!r} is not Chinese"
            assert localisations.get("zh-TW") == traditional[key], f"{key}: not the zh-TW text"
    assert missing == []


# Option names Discord shows in Chinese (the list); the payload keeps the ASCII name.
OPTION_NAMES = {
    "seconds": ("时长", "時長"),
    "orientation": ("方向", "方向"),
    "model": ("模型", "模型"),
    "shots": ("镜头数", "鏡頭數"),
    "image": ("参考图", "參考圖"),
}


async def test_storyboards_option_names_are_localised_where_discord_allows(world: World) -> None:
    [storyboard] = [c for c in synced_commands(world) if c["name"] == "storyboard"]
    names = {key: (name, loc) for key, name, loc in name_texts(storyboard)}
    expected = {
        f"commands.storyboard.names.{option}": (option, {"zh-CN": cn, "zh-TW": tw})
        for option, (cn, tw) in OPTION_NAMES.items()
    }
    assert names == expected
    for _, (_, localisations) in names.items():
        assert all(discord_name_ok(n) for n in localisations.values())
    # The others stay ASCII only: `prompt` is named in /storyboard-help's text.
    options = {o["name"]: o for o in storyboard["options"]}
    assert not options["prompt"].get("name_localizations")


async def test_not_yet_localised_lists_only_commands_still_without_chinese(world: World) -> None:
    """Drop a command from NOT_YET_LOCALISED once it is translated (or gone)."""
    by_name = {c["name"]: c for c in synced_commands(world)}
    for name in NOT_YET_LOCALISED:
        assert name in by_name, f"{name} is no longer synced"
        texts = list(catalogue_texts(by_name[name]))
        done = all("zh-CN" in localisations for _, _, localisations in texts)
        assert not done, f"/{name} is fully localised: remove it from NOT_YET_LOCALISED"


async def test_every_commands_key_is_used_by_a_synced_command(world: World) -> None:
    used = {
        key
        for c in synced_commands(world)
        for texts in (catalogue_texts(c), name_texts(c))
        for key, _, _ in texts
    }
    keys = {k for k in catalogue("en-US") if k.startswith("commands.")}
    assert sorted(keys - used) == []


# (c) the same `commands.*` keys in both catalogues


def test_commands_keys_are_the_same_in_both_catalogues() -> None:
    english = {k for k in catalogue("en-US") if k.startswith("commands.")}
    chinese = {k for k in catalogue("zh-CN") if k.startswith("commands.")}
    assert english, "no commands.* keys"
    assert sorted(english ^ chinese) == []


# The translator on its own


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (discord.Locale.chinese, "把分镜里的一个个镜头生成为视频"),
        (discord.Locale.taiwan_chinese, "把分鏡裡的一個個鏡頭生成為影片"),
        (discord.Locale.american_english, None),
        (discord.Locale.british_english, None),
        (discord.Locale.french, None),
    ],
)
async def test_translator_answers_for_the_languages_we_have(
    locale: discord.Locale, expected: str | None
) -> None:
    translator = CatalogueTranslator()
    text = app_commands.locale_str("Make a video", key="commands.storyboard.description")
    context: app_commands.TranslationContextTypes = app_commands.TranslationContext(
        location=app_commands.TranslationContextLocation.other, data=None
    )
    assert await translator.translate(text, locale, context) == expected
    no_key = app_commands.locale_str("storyboard")
    unknown = app_commands.locale_str("x", key="commands.no.such.key")
    assert await translator.translate(no_key, discord.Locale.chinese, context) is None
    assert await translator.translate(unknown, discord.Locale.chinese, context) is None


# (d) the whole /storyboard flow, for a member whose Discord is in Chinese

# Data that is not language: mentions, code spans (task ids), the model, sizes, the shot
# length syntax and image format names.
NOT_LANGUAGE = re.compile(
    r"<[@#]!?\d+>|<t:\d+(?::[tTdDfFR])?>|`[^`]*`|sora-2|\d+x\d+|\d+(?:\.\d+)? ?(?:MB|KB)"
    r"|\[\d+s\]|PNG|JPEG|WebP|HEIC|AVIF"
    r"|storyboard-\d+\.mp4"
)
# English text the catalogue has for what this flow shows.
FLOW_KEYS = (
    "first.title",
    "first.landscape",
    "first.portrait",
    "first.shot_hint_more",
    *(f"first.placeholder_{n}" for n in range(1, 5)),
    "modal.shot_label",
    "modal.shot_hint",
    "modal.image_label",
    "modal.image_hint",
    "submit.done",
    "thread.started",
    "buttons.retry",
    "buttons.remix",
    "buttons.details",
    "delivery.done",
    *(f"card.{k}" for k in ("title", "status", "model", "length", "size", "image")),
    *(f"card.{k}" for k in ("requested_by", "none", "footer", "portrait", "status_queued")),
    *(f"card.{k}" for k in ("status_in_progress", "status_completed")),
)


@cache
def english_fragments() -> list[str]:
    """The literal parts (between `{fields}`) of the English texts of FLOW_KEYS."""
    english = catalogue("en-US")
    parts = [p.strip(" .,:()") for key in FLOW_KEYS for p in re.split(r"{\w+}", english[key])]
    return sorted({p for p in parts if len(re.findall(r"[A-Za-z]", p)) >= 3})


def visible_texts(body: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) for every string a member can read in a request body."""
    readable = ("content", "title", "description", "label", "placeholder", "name", "text")
    in_field = ".fields[" in where  # an embed field's value is read; a select option's is not
    if isinstance(body, list):
        for i, item in enumerate(body):
            yield from visible_texts(item, f"{where}[{i}]")
        return
    if not isinstance(body, dict):
        return
    for key, value in body.items():
        if (key in readable or (key == "value" and in_field)) and isinstance(value, str):
            yield f"{where}.{key}", value
        elif isinstance(value, dict | list) and key not in ("allowed_mentions", "attachments"):
            yield from visible_texts(value, f"{where}.{key}")


def english_in(call: RecordedCall, where: str, text: str) -> list[str]:
    """Why `text` is not Chinese: English catalogue text in it, a Latin word left once data is
    taken out, or letters and no Chinese at all. Empty when it is fine."""
    residue = NOT_LANGUAGE.sub("", text)
    english = [f for f in english_fragments() if f in text] + re.findall(r"[A-Za-z]+", residue)
    if not english and re.search(r"[^\W\d_]", residue) and not CJK.search(text):
        english = ["no Chinese"]
    if not english:
        return []
    return [f"{where}: {text!r} {english}"]


def flow_calls(world: World, since: int) -> list[RecordedCall]:
    """What the bot sent after `since`: interaction answers and messages, not the sync."""
    return [
        c
        for c in world.fd.calls[since:]
        if c.method in ("POST", "PATCH") and "/commands" not in c.path and c.json is not None
    ]


async def test_a_storyboard_by_a_chinese_member_is_chinese_from_start_to_delivery(
    world: World,
) -> None:
    fd, bob = world.fd, world.std.bob
    assert bob.locale == "zh-CN"
    world.std.guild.preferred_locale = "zh-CN"  # a Chinese server: its public messages too
    since = len(fd.calls)
    ix = await world.open_storyboard(bob, shots=2, seconds=10, orientation="portrait")

    modal = ix.modal
    assert modal is not None
    assert modal["title"] == "10 秒 · 竖屏 · sora-2"
    labels = [c["label"] for c in modal["components"]]
    assert labels == ["镜头 1", "镜头 2", "参考图（可选）"]
    assert all(CJK.search(c["description"]) for c in modal["components"])
    assert all(CJK.search(c["component"]["placeholder"]) for c in modal["components"][:2])

    sub = await world.submit(ix, ["冰箱门缓缓打开。", "一只紫色的小怪兽走了出来。"])
    [job] = await world.jobs()
    assert (job.locale, job.public_locale) == ("zh-CN", "zh-CN")
    reply = followup_text(sub)
    assert reply.startswith(f"已提交！视频 #{job.id} 正在排队，进度请看 <#")

    [card] = [c for c in fd.calls_to(SEND) if c.params["channel_id"] == str(TEXT_CHANNEL_ID)]
    embed = card.json["embeds"][0]
    assert embed["title"] == "分镜视频"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert list(fields) == ["状态", "模型", "时长", "尺寸", "参考图", "进度", "发起人"]
    assert re.fullmatch(r"排队中 · <t:\d+:R>提交", fields["进度"])
    assert fields["状态"] == "排队中"
    assert fields["尺寸"] == "720×1280（竖屏）"
    assert embed["footer"]["text"] == f"视频 #{job.id}"
    buttons = [b["label"] for row in card.json["components"] for b in row["components"]]
    assert buttons == ["取消", "详情"]  # a queued job: nothing on it pays again

    [thread_call] = fd.calls_to(THREAD_FROM_MESSAGE)
    thread_id = int(thread_call.response["id"])
    [hello] = [c for c in fd.calls_to(SEND) if c.params["channel_id"] == str(thread_id)]
    assert hello.json["content"] == f"<@{bob.id}> 你的视频正在生成，进度会发在这里。"

    # On to the delivery: the card is edited as the job moves, then the video is posted.
    world.provider.advance(3600)
    await world.wait_until(
        lambda: any(c.files for c in fd.calls_to(SEND) if c.params["channel_id"] == str(thread_id))
    )
    await world.wait_until(
        lambda: any(
            "已完成" in str(c.json)
            for c in fd.calls_to(EDIT)
            if c.params["message_id"] == card.response["id"]
        )
    )
    [delivery] = [c for c in fd.calls_to(SEND) if c.files]
    assert delivery.json["content"].startswith(
        f"<@{bob.id}> 你的视频 #{job.id} 已完成（10 秒，sora-2，"
    )

    # Everything the member could read in this flow is Chinese.
    texts = [
        (c, f"{c.route}{w}", s) for c in flow_calls(world, since) for w, s in visible_texts(c.json)
    ]
    assert len(texts) > 40
    assert "排队中" in [s for _, w, s in texts if w.endswith(".value")]
    leaks = [leak for call, where, text in texts for leak in english_in(call, where, text)]
    assert leaks == []


async def test_the_english_check_finds_english(world: World) -> None:
    """The same flow by alice (en-US): the check above must see her English."""
    since = len(world.fd.calls)
    ix = await world.open_storyboard(shots=1, seconds=10)
    await world.submit(ix, ["A cat."])
    calls = flow_calls(world, since)
    leaks = [
        leak
        for c in calls
        for where, text in visible_texts(c.json)
        for leak in english_in(c, where, text)
    ]
    for english in (
        "10 s · landscape · sora-2",
        "Shot 1",
        "Storyboard video",
        "Requested by",
        "Queued",
        "Cancel",
    ):
        assert any(repr(english)[1:-1] in leak for leak in leaks), english


def card_and_reply(world: World, sub: Any) -> tuple[JSON, str]:
    [*_, card] = [c for c in world.fd.calls_to(SEND) if c.json and c.json.get("embeds")]
    embed = card.json["embeds"][0]
    return {f["name"]: f["value"] for f in embed["fields"]}, followup_text(sub)


async def test_the_card_is_in_the_servers_language_the_reply_in_the_members(
    world: World,
) -> None:
    """Everyone reads the card: the server's language. Only bob reads the reply: his."""
    ix = await world.open_storyboard(world.std.bob, shots=1, seconds=10)
    sub = await world.submit(ix, ["一只猫。"])
    fields, reply = card_and_reply(world, sub)
    assert fields["Length"] == "10 s"  # an English server (Discord's preferred locale)
    assert reply.startswith("已提交！视频 #1 正在排队")
    # A server whose Discord language is Traditional Chinese: alice's card is in it.
    world.std.guild.preferred_locale = "zh-TW"
    ix = await world.open_storyboard(world.std.alice, shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat."])
    fields, reply = card_and_reply(world, sub)
    assert fields["時長"] == "10 秒"
    assert fields["尺寸"] == "1280×720（橫式）"
    assert reply.startswith("Submitted! Video #2 is queued.")
    [*_, second] = await world.jobs()
    assert (second.locale, second.public_locale) == ("en-US", "zh-TW")


async def test_the_servers_locale_setting_wins_over_discords(world: World) -> None:
    world.bot.config = with_guild(world, locale="zh-CN")
    world.std.guild.preferred_locale = "zh-TW"
    ix = await world.open_storyboard(world.std.alice, shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat."])
    fields, reply = card_and_reply(world, sub)
    assert fields["时长"] == "10 秒"
    assert reply.startswith("Submitted! Video #1 is queued.")
    [thread_call] = world.fd.calls_to(THREAD_FROM_MESSAGE)
    thread_id = thread_call.response["id"]
    [hello] = [c for c in world.fd.calls_to(SEND) if c.params["channel_id"] == str(thread_id)]
    assert hello.json["content"] == f"<@{world.std.alice.id}> 你的视频正在生成，进度会发在这里。"
    # The delivery too, though alice reads English.
    world.provider.advance(3600)
    await world.wait_until(lambda: any(c.files for c in world.fd.calls_to(SEND)))
    [delivery] = [c for c in world.fd.calls_to(SEND) if c.files]
    assert delivery.json["content"].startswith(f"<@{world.std.alice.id}> 你的视频 #1 已完成（")


async def test_details_speak_the_members_language(world: World) -> None:
    job = await world.submitted_job("一只猫。", user=world.std.bob)
    sub = await world.fd.press_button(
        job.card_message_id or 0, f"sb:details:{job.id}", user=world.std.bob
    )
    await sub.wait_callback()
    text = followup_text(sub) or str((sub.callback or {}).get("data", {}).get("content", ""))
    assert CJK.search(text)
    assert not re.search(r"\b(True|False)\b", text), text
