"""Limits Discord enforces that its OpenAPI description does not encode (or encodes loosely)."""

from __future__ import annotations

import re
from typing import Any

from .validation import Problem

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBEDS_TOTAL_MAX = 6000
CUSTOM_ID_MAX = 100
MODAL_TITLE_MAX = 45
MODAL_TOP_LEVEL_MAX = 5
LABEL_MAX = 45
LABEL_DESCRIPTION_MAX = 100
TEXT_INPUT_MAX = 4000
THREAD_NAME_MAX = 100
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")

Path = tuple[str | int, ...]


def _too_long(path: Path, limit: int, got: int) -> Problem:
    return Problem(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length (got {got}).")


def message_problems(body: Any, path: Path = ()) -> list[Problem]:
    """Content and embed limits of a message body (create, edit, followup, callback data)."""
    if not isinstance(body, dict):
        return []
    problems: list[Problem] = []
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        problems.append(_too_long((*path, "content"), CONTENT_MAX, len(content)))
    embeds = body.get("embeds")
    if isinstance(embeds, list):
        if len(embeds) > EMBEDS_MAX:
            problems.append(_too_long((*path, "embeds"), EMBEDS_MAX, len(embeds)))
        total = sum(embed_text_length(e) for e in embeds if isinstance(e, dict))
        if total > EMBEDS_TOTAL_MAX:
            problems.append(
                Problem(
                    (*path, "embeds"),
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {EMBEDS_TOTAL_MAX} (got {total}).",
                )
            )
    problems += component_problems(body.get("components"), (*path, "components"))
    return problems


def embed_text_length(embed: dict[str, Any]) -> int:
    """The characters Discord counts towards the 6000 limit of all embeds of a message."""

    def text(node: Any, key: str) -> int:
        value = node.get(key) if isinstance(node, dict) else None
        return len(value) if isinstance(value, str) else 0

    total = text(embed, "title") + text(embed, "description")
    total += text(embed.get("footer"), "text") + text(embed.get("author"), "name")
    for f in embed.get("fields") or []:
        total += text(f, "name") + text(f, "value")
    return total


def component_problems(components: Any, path: Path) -> list[Problem]:
    """custom_id length and Label text limits, anywhere in a component tree."""
    problems: list[Problem] = []

    def walk(node: Any, where: Path) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, (*where, i))
            return
        if not isinstance(node, dict):
            return
        custom_id = node.get("custom_id")
        if isinstance(custom_id, str) and len(custom_id) > CUSTOM_ID_MAX:
            problems.append(_too_long((*where, "custom_id"), CUSTOM_ID_MAX, len(custom_id)))
        if node.get("type") == 18:
            for key, limit in (("label", LABEL_MAX), ("description", LABEL_DESCRIPTION_MAX)):
                value = node.get(key)
                if isinstance(value, str) and len(value) > limit:
                    problems.append(_too_long((*where, key), limit, len(value)))
        if node.get("type") == 4:
            for key in ("max_length", "min_length"):
                value = node.get(key)
                if isinstance(value, int) and value > TEXT_INPUT_MAX:
                    problems.append(
                        Problem(
                            (*where, key), "NUMBER_TYPE_MAX", f"Must be {TEXT_INPUT_MAX} or less."
                        )
                    )
        for key in ("components", "component", "accessory"):
            if key in node:
                walk(node[key], (*where, key))

    walk(components, path)
    return problems


def modal_problems(data: Any, path: Path) -> list[Problem]:
    if not isinstance(data, dict):
        return []
    problems: list[Problem] = []
    title = data.get("title")
    if isinstance(title, str) and len(title) > MODAL_TITLE_MAX:
        problems.append(_too_long((*path, "title"), MODAL_TITLE_MAX, len(title)))
    components = data.get("components")
    if isinstance(components, list) and len(components) > MODAL_TOP_LEVEL_MAX:
        problems.append(_too_long((*path, "components"), MODAL_TOP_LEVEL_MAX, len(components)))
    problems += component_problems(components, (*path, "components"))
    return problems


def thread_name_problems(body: Any, path: Path = ()) -> list[Problem]:
    name = body.get("name") if isinstance(body, dict) else None
    if name is None:
        return []
    if not isinstance(name, str) or not 1 <= len(name) <= THREAD_NAME_MAX:
        got = len(name) if isinstance(name, str) else -1
        return [
            Problem(
                (*path, "name"),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {THREAD_NAME_MAX} in length (got {got}).",
            )
        ]
    return []


def command_problems(command: Any, path: Path) -> list[Problem]:
    """Command and option names: lowercase `[-_'\\w]{1,32}` for chat input commands."""
    if not isinstance(command, dict):
        return []
    problems: list[Problem] = []
    chat_input = command.get("type", 1) == 1

    def check(node: dict[str, Any], where: Path, strict: bool) -> None:
        name = node.get("name")
        if (
            strict
            and isinstance(name, str)
            and (not COMMAND_NAME.match(name) or name != name.lower())
        ):
            problems.append(
                Problem(
                    (*where, "name"),
                    "APPLICATION_COMMAND_INVALID_NAME",
                    f"Command name is invalid: {name!r}",
                )
            )
        options = node.get("options") or []
        seen: set[str] = set()
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                continue
            if option.get("name") in seen:
                problems.append(
                    Problem(
                        (*where, "options", i, "name"),
                        "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                        f"Option name {option.get('name')!r} is already used",
                    )
                )
            seen.add(str(option.get("name")))
            check(option, (*where, "options", i), True)

    check(command, path, chat_input)
    return problems


def route_problems(route: str, body: Any) -> list[Problem]:
    """Extra problems for a body sent to `route` ("METHOD /template")."""
    if body is None:
        return []
    method, _, template = route.partition(" ")
    if template.endswith("/callback"):
        if not isinstance(body, dict):
            return []
        if body.get("type") == 9:
            return modal_problems(body.get("data"), ("data",))
        return message_problems(body.get("data"), ("data",))
    if template.endswith("/threads"):
        problems = thread_name_problems(body)
        if isinstance(body, dict) and isinstance(body.get("message"), dict):
            problems += message_problems(body["message"], ("message",))
        return problems
    if template == "/channels/{channel_id}" and method == "PATCH":
        return thread_name_problems(body)
    if "/commands" in template:
        if isinstance(body, list):
            return [p for i, c in enumerate(body) for p in command_problems(c, (i,))]
        return command_problems(body, ())
    if "/messages" in template or template.startswith("/webhooks/"):
        return message_problems(body)
    return []
