"""Checks request bodies against Discord's OpenAPI description (spec/discord-openapi.json).

Loading the spec takes about 3 s, so it is built once per process and shared.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema.exceptions import (  # type: ignore[import-untyped]
    ValidationError,
    best_match,
)
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from openapi_core.validation.request.exceptions import (
    InvalidRequestBody,
    MissingRequiredRequestBody,
)
from openapi_core.validation.request.validators import V31RequestBodyValidator

SPEC_PATH = Path(__file__).resolve().parents[2] / "spec" / "discord-openapi.json"
SPEC_HOST = "https://discord.com"
SPEC_PREFIX = "/api/v10"

_lock = threading.Lock()
_validator: V31RequestBodyValidator | None = None


@dataclass(frozen=True)
class Problem:
    """One reason Discord would refuse a body: where (JSON path), a code and a message."""

    path: tuple[str | int, ...]
    code: str
    message: str

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path) or "<body>"
        return f"{where}: {self.message} [{self.code}]"


def load_discord_spec() -> V31RequestBodyValidator:
    """The body validator for Discord's spec, built on first use (thread-safe)."""
    global _validator
    with _lock:
        if _validator is None:
            spec = OpenAPI.from_dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
            _validator = V31RequestBodyValidator(spec.spec)
        return _validator


def normalise_known_gaps(body: Any) -> Any:
    """Turn the integers discord.py sends where the spec wants snowflake strings into strings.

    `allowed_mentions.users`/`roles` and the `attachments[].id` upload placeholders
    (Discord accepts both forms).
    """
    body = copy.deepcopy(body)

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        mentions = node.get("allowed_mentions")
        if isinstance(mentions, dict):
            for key in ("users", "roles"):
                if isinstance(mentions.get(key), list):
                    mentions[key] = [str(v) if isinstance(v, int) else v for v in mentions[key]]
        attachments = node.get("attachments")
        if isinstance(attachments, list):
            for att in attachments:
                if isinstance(att, dict) and isinstance(att.get("id"), int):
                    att["id"] = str(att["id"])
        for value in node.values():
            walk(value)

    walk(body)
    return body


def validate_body(method: str, path: str, body: Any) -> tuple[bool, list[Problem]]:
    """Validate `body` for `method path` (path without /api/v10).

    Returns (checked, problems); checked is False when the spec has no body schema
    for the operation.
    """
    validator = load_discord_spec()
    request = MockRequest(
        SPEC_HOST,
        method,
        SPEC_PREFIX + path,
        headers={"Authorization": "Bot fake"},
        data=json.dumps(normalise_known_gaps(body)).encode(),
        content_type="application/json",
    )
    try:
        validator.validate(request)
    except InvalidRequestBody as exc:
        cause = exc.__cause__
        errors: Iterable[ValidationError] = getattr(cause, "schema_errors", ()) or ()
        problems = [p for err in errors for p in _problems_from(err)]
        return True, problems or [Problem((), "INVALID", str(exc))]
    except MissingRequiredRequestBody:
        return True, [Problem((), "BASE_TYPE_REQUIRED", "A request body is required")]
    except Exception:  # operation not in the spec, or no JSON body schema: not checked
        return False, []
    return True, []


def _discard_branch(errors: list[ValidationError]) -> bool:
    """A union branch is the wrong one when its `type` discriminator or JSON type failed."""
    for err in errors:
        rel = list(err.relative_path)
        if rel == ["type"] and err.validator in ("enum", "const"):
            return True
        if not rel and err.validator == "type":
            return True
    return False


def _problems_from(err: ValidationError) -> list[Problem]:
    """Leaf problems of `err`; in a oneOf/anyOf, only the branch whose `type` matched."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        branches: dict[int, list[ValidationError]] = {}
        for sub in err.context:
            branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        consts = _enum_choices(branches)
        if consts is not None:
            message = f"Value must be one of {_short(consts)} (got {_short(err.instance)})."
            return [_problem(err, "BASE_TYPE_CHOICES", message)]
        kept = {i: errs for i, errs in branches.items() if not _discard_branch(errs)}
        if not kept:
            instance = err.instance
            kind = instance.get("type") if isinstance(instance, dict) else type(instance).__name__
            return [_problem(err, "UNION_TYPE_CHOICES", f"no variant accepts type {kind!r}")]
        if len(kept) > 1:
            best = best_match([e for errs in kept.values() for e in errs])
            chosen = next(errs for errs in kept.values() if best in errs)
        else:
            chosen = next(iter(kept.values()))
        return [p for sub in chosen for p in _problems_from(sub)]
    return [_problem(err, *_code_and_message(err))]


def _enum_choices(branches: dict[int, list[ValidationError]]) -> list[Any] | None:
    """The allowed values when every branch is a `const`/`enum` on the value itself."""
    choices: list[Any] = []
    for errs in branches.values():
        for e in errs:
            if list(e.relative_path) or e.validator not in ("const", "enum"):
                return None
            values = e.validator_value if e.validator == "enum" else [e.validator_value]
            choices += [v for v in values if v not in choices]
    return choices


def _problem(err: ValidationError, code: str, message: str) -> Problem:
    path = tuple(str(p) if not isinstance(p, int) else p for p in err.absolute_path)
    return Problem(path, code, message)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code_and_message(err: ValidationError) -> tuple[str, str]:
    v, limit = err.validator, err.validator_value
    if v == "maxLength":
        return (
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {limit} or fewer in length (got {len(err.instance)}).",
        )
    if v == "minLength":
        return "BASE_TYPE_MIN_LENGTH", f"Must be {limit} or more in length."
    if v == "maxItems":
        return (
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {limit} or fewer in length (got {len(err.instance)}).",
        )
    if v == "minItems":
        return "BASE_TYPE_MIN_LENGTH", f"Must be {limit} or more in length."
    if v == "required":
        return "BASE_TYPE_REQUIRED", f"This field is required: {err.message}"
    if v in ("enum", "const"):
        return (
            "BASE_TYPE_CHOICES",
            f"Value must be one of {_short(limit)} (got {_short(err.instance)}).",
        )
    if v in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
        return "NUMBER_TYPE_OUT_OF_RANGE", f"{err.message}."
    if v == "type":
        return "BASE_TYPE_BAD_TYPE", f"{_short(err.instance)} is not of type {limit}."
    if v == "additionalProperties":
        return "UNKNOWN_FIELD", err.message
    return "INVALID", f"{_short(err.instance)} fails {v}: {err.message[:200]}"


def discord_error_body(problems: list[Problem]) -> dict[str, Any]:
    """Discord's 400 body: {"code": 50035, "message": "Invalid Form Body", "errors": {...}}."""
    errors: dict[str, Any] = {}
    for problem in problems:
        node = errors
        for part in problem.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": problem.code, "message": problem.message})
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}
