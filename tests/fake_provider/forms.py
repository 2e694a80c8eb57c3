"""Reading request bodies and writing OpenAI-style errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from typing import Any

from tests.fake_provider.records import RecordedFile


@dataclass(frozen=True)
class FieldError:
    """One reason to reject a request; `param` names the offending field."""

    message: str
    param: str | None = None


class ApiError(Exception):
    """Raised by a handler to answer with an OpenAI-style error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = (
            status,
            message,
            param,
            code,
            type_,
        )

    def body(self) -> dict[str, Any]:
        return error_body(self.message, param=self.param, code=self.code, type_=self.type)


def error_body(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    type_: str = "invalid_request_error",
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_STATUS_ERRORS: dict[int, tuple[str, str, str | None]] = {
    401: ("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", None),
    408: ("Request timed out.", "server_error", None),
    409: ("The request conflicts with the current state.", "invalid_request_error", None),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
    524: ("A timeout occurred.", "server_error", None),
}


PROBLEM_JSON = "application/problem+json"


def newapi_error_body(message: str, code: str = "fail_to_fetch_task") -> dict[str, Any]:
    """new-api's task error shape: `{"code", "message", "data": null}`."""
    return {"code": code, "message": message, "data": None}


def problem_body(status: int, title: str, detail: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem; send it with `content_type=PROBLEM_JSON`."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    return body


def html_error_page(status: int, reason: str, host: str = "api.example.com") -> str:
    """A Cloudflare-style error page (`text/html`), as a proxy sends for 502/504/524."""
    return (
        '<!DOCTYPE html>\n<html lang="en-US"><head>'
        f"<title>{host} | {status}: {reason}</title>"
        "<style>body{font-family:sans-serif}</style>"
        "<script>window._cf_chl_opt={}</script></head>\n<body>"
        f'<div class="cf-error"><h1>Error code {status}</h1>\n'
        f"<p>{reason}</p>\n<p>Visit cloudflare.com for more information.</p></div>"
        "</body></html>"
    )


def status_error_body(status: int) -> dict[str, Any]:
    """The body a provider typically sends with `status`."""
    message, type_, code = _STATUS_ERRORS.get(
        status, (f"Request failed with status {status}.", "invalid_request_error", None)
    )
    return error_body(message, type_=type_, code=code)


def parse_multipart(content_type_header: str, body: bytes) -> list[tuple[str, RecordedFile | str]]:
    """Split a multipart/form-data body into (name, text or file) parts, in order.

    Uses the standard library's MIME parser, not aiohttp's, so the fake does
    not share a bug with the client that wrote the body. Raises ValueError
    if the body is not well-formed multipart.
    """
    head = f"MIME-Version: 1.0\r\nContent-Type: {content_type_header}\r\n\r\n".encode()
    message = BytesParser().parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise ValueError(f"malformed multipart body ({message.defects or 'no parts'})")
    parts: list[tuple[str, RecordedFile | str]] = []
    for part in message.get_payload():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.defects:
            raise ValueError("a part has no form-data name")
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            raise ValueError(f"part {name!r} has no payload")
        filename = part.get_filename()
        if filename is None:
            try:
                parts.append((name, data.decode(part.get_content_charset() or "utf-8")))
            except LookupError as exc:  # an unknown charset
                raise ValueError(str(exc)) from exc
        else:
            parts.append((name, RecordedFile(filename, part.get("Content-Type"), data)))
    return parts


def parse_json(body: bytes) -> Any:
    """The JSON value of `body`; ValueError if it is not JSON."""
    return json.loads(body.decode("utf-8"))
