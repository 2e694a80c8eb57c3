"""What each dialect accepts on POST /v1/videos (and on remix).

relay: the provider's own OpenAPI description (spec/relay-openapi.yaml),
checked with openapi-core, plus the rules the provider enforces that the
description only states in prose. openai: OpenAI's official values, by hand.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types.util import data_form_loads
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.request.exceptions import SecurityValidationError
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers as WerkzeugHeaders
from werkzeug.datastructures import ImmutableMultiDict

from tests.fake_provider.forms import FieldError
from tests.fake_provider.jobs import Dialect
from tests.fake_provider.records import RecordedRequest

RELAY_SPEC = Path(__file__).resolve().parents[2] / "spec" / "relay-openapi.yaml"
MULTIPART = "multipart/form-data"
OPENAI_FIELDS = ("model", "prompt", "seconds", "size", "input_reference")
OPENAI_SECONDS = ("4", "8", "12")
OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
OPENAI_MODEL = re.compile(r"sora-2(-pro)?(-\d{4}-\d{2}-\d{2})?")
OPENAI_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
_SIZE = re.compile(r"[1-9]\d*x[1-9]\d*")
_REQUIRED = re.compile(r"'(?P<name>[^']+)' is a required property")


class _SchemaError(Protocol):
    """The parts of a jsonschema ValidationError used here (jsonschema ships no stubs)."""

    validator: Any
    validator_value: Any
    instance: Any
    message: str
    path: Sequence[str | int]


class _BooleanTextMultipart:
    """openapi-core's multipart deserializer, then `true`/`false` text -> bool.

    Every multipart value is text; openapi-core 0.23 validates it as the
    string 'false' against `type: boolean` and rejects it. Only exact
    lower-case `true`/`false` in properties the schema types as boolean are
    converted, so `True` (Python's str(True)) still fails, as it should.
    """

    def __init__(self) -> None:
        self.boolean_fields: frozenset[str] = frozenset()

    def __call__(self, value: bytes, **parameters: str) -> Mapping[str, Any]:
        form = data_form_loads(value, **parameters)
        assert isinstance(form, ImmutableMultiDict)
        return ImmutableMultiDict(
            [(name, self._coerce(name, raw)) for name, raw in form.items(multi=True)]
        )

    def _coerce(self, name: str, raw: Any) -> Any:
        if name in self.boolean_fields and raw in (b"true", b"false"):
            return raw == b"true"
        return raw


@dataclass(frozen=True)
class RelayContract:
    api: OpenAPI
    server_url: str
    boolean_fields: frozenset[str]
    required_fields: tuple[str, ...]


@functools.cache
def relay_contract() -> RelayContract:
    """The relay's OpenAPI object, built once per process."""
    multipart = _BooleanTextMultipart()
    api = OpenAPI.from_file_path(
        str(RELAY_SPEC), config=Config(extra_media_type_deserializers={MULTIPART: multipart})
    )
    schema = api.spec / "paths" / "/v1/videos" / "post" / "requestBody" / "content" / MULTIPART
    schema = schema / "schema"
    properties = (schema / "properties").read_value()
    multipart.boolean_fields = frozenset(
        name for name, prop in properties.items() if prop.get("type") == "boolean"
    )
    return RelayContract(
        api=api,
        server_url=(api.spec / "servers" / 0 / "url").read_str(),
        boolean_fields=multipart.boolean_fields,
        required_fields=tuple((schema / "required").read_value()),
    )


class _ContractRequest:
    """openapi-core's Request protocol over a recorded request.

    openapi-core's own aiohttp adapter passes `request.content_type`, which
    has lost the multipart boundary, and a host URL without the port; so the
    fake keeps the full Content-Type header and presents itself as the
    server the description names.
    """

    def __init__(self, record: RecordedRequest, host_url: str) -> None:
        self.host_url = host_url
        self.path = record.path
        self.method = record.method.lower()
        self.body: bytes | None = record.body
        self.content_type = record.headers.get("Content-Type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(record.query),
            header=WerkzeugHeaders(list(record.headers.items())),
            cookie=ImmutableMultiDict(),
        )


def _schema_problem(error: _SchemaError) -> FieldError:
    if error.validator == "required":
        match = _REQUIRED.fullmatch(error.message)
        name = match["name"] if match else None
        return FieldError(f"Missing required parameter: '{name}'.", name)
    param = str(error.path[0]) if error.path else None
    value = error.instance
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return FieldError(f"Invalid value for '{param}': {value!r}. Supported: {allowed}.", param)
    if error.validator == "type" and error.validator_value == "boolean":
        return FieldError(
            f"Invalid type for '{param}': expected true or false, got {value!r}.", param
        )
    return FieldError(f"Invalid value for '{param}': {error.message}", param)


def _openapi_problem(error: Exception) -> list[FieldError]:
    cause = error.__cause__
    if isinstance(cause, MediaTypeNotFound):
        return [FieldError(_content_type_message(cause.mimetype))]
    if isinstance(cause, InvalidSchemaValue):
        return [_schema_problem(cast(_SchemaError, e)) for e in cause.schema_errors]
    if isinstance(error, SecurityValidationError):
        return [FieldError("Missing bearer authorization.")]
    return [FieldError(f"Invalid request: {error}")]


def _content_type_message(mimetype: str | None) -> str:
    return (
        f"Unsupported content type {mimetype or '(none)'!r}: "
        f"this endpoint accepts {MULTIPART} only."
    )


def relay_problems(record: RecordedRequest) -> list[FieldError]:
    """Check a relay create against the OpenAPI description and the provider's rules."""
    contract = relay_contract()
    request = _ContractRequest(record, contract.server_url)
    try:
        problems = [
            p for e in contract.api.iter_request_errors(request) for p in _openapi_problem(e)
        ]
    except (AssertionError, ValueError) as exc:  # openapi-core's parser gives up uncaught
        return [FieldError(f"Could not parse the {MULTIPART} body ({exc!r}).")]
    if record.content_type == MULTIPART and not record.body:
        # An empty body passes openapi-core: the requestBody is not `required`.
        problems += [
            FieldError(f"Missing required parameter: '{name}'.", name)
            for name in contract.required_fields
        ]
    if record.content_type == MULTIPART:
        problems += _relay_rules(record.fields)
    return problems


def _relay_rules(fields: Mapping[str, str]) -> list[FieldError]:
    """What the relay enforces beyond its description's schema."""
    problems: list[FieldError] = []
    model = fields.get("model", "")
    if fields.get("seconds") == "25" and "pro" not in model.lower():
        message = f"Invalid value for 'seconds': '25' needs a pro model, not {model!r}."
        problems.append(FieldError(message, "seconds"))
    size = fields.get("size", "")
    if size and not _SIZE.fullmatch(size):
        problems.append(
            FieldError(f"Invalid value for 'size': {size!r} is not WIDTHxHEIGHT.", "size")
        )
    stamps = fields.get("character_timestamps", "")
    if stamps:
        problems += _timestamp_rule(stamps)
    return problems


def _timestamp_rule(stamps: str) -> list[FieldError]:
    param = "character_timestamps"
    try:
        start, end = (float(part) for part in stamps.split(","))
    except ValueError:
        return [FieldError(f"Invalid value for '{param}': {stamps!r} is not 'start,end'.", param)]
    if not 1 <= end - start <= 3:
        message = (
            f"Invalid value for '{param}': end - start must be 1 to 3 seconds, got {stamps!r}."
        )
        return [FieldError(message, param)]
    return []


def openai_problems(record: RecordedRequest) -> list[FieldError]:
    """Check an OpenAI-dialect create against the official values."""
    if record.content_type != MULTIPART:
        return [FieldError(_content_type_message(record.content_type))]
    problems = [
        FieldError(f"Unknown parameter: '{name}'.", name)
        for name in [*record.fields, *record.files]
        if name not in OPENAI_FIELDS
    ]
    fields = record.fields
    if not fields.get("prompt"):
        problems.append(FieldError("Missing required parameter: 'prompt'.", "prompt"))
    checks = (("seconds", OPENAI_SECONDS), ("size", OPENAI_SIZES))
    for name, allowed in checks:
        if name in fields and fields[name] not in allowed:
            supported = ", ".join(repr(v) for v in allowed)
            message = f"Invalid value for '{name}': {fields[name]!r}. Supported: {supported}."
            problems.append(FieldError(message, name))
    if "model" in fields and not OPENAI_MODEL.fullmatch(fields["model"]):
        problems.append(FieldError(f"Invalid value for 'model': {fields['model']!r}.", "model"))
    if "input_reference" in fields:
        problems.append(FieldError("'input_reference' must be a file.", "input_reference"))
    image = record.files.get("input_reference")
    if image is not None and image.content_type not in OPENAI_IMAGE_TYPES:
        message = f"Invalid file type for 'input_reference': {image.content_type!r}."
        problems.append(FieldError(message, "input_reference"))
    return problems


def create_problems(dialect: Dialect, record: RecordedRequest) -> list[FieldError]:
    return relay_problems(record) if dialect == "relay" else openai_problems(record)


def remix_problems(dialect: Dialect, record: RecordedRequest) -> list[FieldError]:
    """A remix carries a `prompt`, as JSON or multipart (openai: nothing else)."""
    if record.content_type == "application/json":
        if not isinstance(record.json, dict):
            return [FieldError("The body must be a JSON object.")]
        values: Mapping[str, Any] = record.json
    elif record.content_type == MULTIPART:
        values = {**record.fields, **record.files}
    else:
        return [FieldError(_content_type_message(record.content_type))]
    problems = []
    if dialect == "openai":
        problems = [FieldError(f"Unknown parameter: '{n}'.", n) for n in values if n != "prompt"]
    prompt = values.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        problems.append(FieldError("Missing required parameter: 'prompt'.", "prompt"))
    return problems
