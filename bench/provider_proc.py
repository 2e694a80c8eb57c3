"""The fake provider in a process of its own, for the benchmarks that measure the bot.

`tests.fake_provider.FakeProvider` on 127.0.0.1. It keeps no request bodies or
uploaded files once answered (a benchmark sends hundreds of megabytes), only
counts. It prints `{"base_url": ...}`, then answers one JSON command per stdin
line with one JSON line:

- `{"cmd": "stats"}`: requests by route, creates the contract refused, jobs;
- `{"cmd": "advance", "seconds": s}`: move the fake clock;
- `{"cmd": "quit"}` (or end of stdin).

    .venv/bin/python -m bench.provider_proc --key sk-bench --dialect relay
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from aiohttp import web

from tests.fake_provider import FakeProvider
from tests.fake_provider.contract import MULTIPART
from tests.fake_provider.forms import ApiError
from tests.fake_provider.jobs import Dialect
from tests.fake_provider.records import RecordedFile, RecordedRequest
from tests.fake_provider.routes import RECORD
from tests.fake_provider.server import Handler

# A backstop: the benchmark that started this process ends it long before.
MAX_LIFETIME_SECONDS = 3600.0
MAX_COMMANDS = 100_000


def split_multipart(content_type: str, body: bytes) -> list[tuple[str, RecordedFile | str]]:
    """`tests.fake_provider.forms.parse_multipart`, by splitting on the boundary.

    The standard library's MIME parser reads a 5 MB upload in about 140 ms, most of
    a create's time in `bench.submit_path`; this takes a few. Still not aiohttp's
    parser, so the fake shares no bug with the client. ValueError if malformed.
    """
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("no boundary")
    sections = body.split(b"--" + boundary.encode())
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise ValueError("no closing boundary")
    parts: list[tuple[str, RecordedFile | str]] = []
    for section in sections[1:-1]:
        if not section.startswith(b"\r\n") or not section.endswith(b"\r\n"):
            raise ValueError("a part is not framed by CRLF")
        head, sep, payload = section[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a part has no header block")
        headers = BytesHeaderParser().parsebytes(head)
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a part has no form-data name")
        filename = headers.get_filename()
        if filename is None:
            parts.append((name, payload.decode(headers.get_content_charset() or "utf-8")))
        else:
            parts.append((name, RecordedFile(filename, headers.get("Content-Type"), payload)))
    return parts


class LeanProvider(FakeProvider):
    """The fake provider, forgetting bodies and files once a request is answered.

    Multipart bodies are read by `split_multipart`; everything else as the fake does.
    """

    def __init__(self, keys: set[str], dialect: Dialect) -> None:
        super().__init__(keys=keys, dialect=dialect)
        self.routes: Counter[str] = Counter()
        self.refused_creates = 0
        self.upload_bytes = 0

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await super()._middleware(request, handler)
        record = request.get(RECORD)
        if record is not None:
            self.routes[record.route] += 1
            if record.route == "create" and not record.valid:
                self.refused_creates += 1
            self.upload_bytes += sum(len(f.data) for f in record.files.values())
            record.body = b""
            record.files.clear()  # the job holds the same dict
        self.requests.clear()
        return response

    def _read_body(self, record: RecordedRequest) -> ApiError | None:
        if record.content_type != MULTIPART or not record.body:
            return super()._read_body(record)
        try:
            for name, value in split_multipart(record.headers["Content-Type"], record.body):
                if isinstance(value, RecordedFile):
                    record.files.setdefault(name, value)
                else:
                    record.fields.setdefault(name, value)
        except (ValueError, LookupError) as exc:
            return ApiError(400, f"Could not parse the {record.content_type} body ({exc}).")
        return None

    def stats(self) -> dict[str, Any]:
        return {
            "routes": dict(self.routes),
            "refused_creates": self.refused_creates,
            "upload_bytes": self.upload_bytes,
            "jobs": len(self.jobs),
        }


def reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def commands(lifetime: float = MAX_LIFETIME_SECONDS) -> AsyncIterator[dict[str, Any]]:
    """The commands the bench sends on stdin, one JSON object per line, until it closes
    stdin or `lifetime` runs out (an orphaned helper never outlives its bench by long)."""
    deadline = time.monotonic() + lifetime
    for _ in range(MAX_COMMANDS):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        line = await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), left)
        if not line:
            return
        command: dict[str, Any] = json.loads(line)
        yield command


async def serve(key: str, dialect: Dialect) -> None:
    async with LeanProvider({key}, dialect) as provider:
        reply({"base_url": provider.base_url})
        async for command in commands():
            match command.get("cmd"):
                case "stats":
                    reply(provider.stats())
                case "advance":
                    provider.advance(float(command["seconds"]))
                    reply({"now": provider.now})
                case "quit":
                    reply({"bye": True})
                    break
                case other:
                    reply({"error": f"unknown command {other!r}"})


def main() -> None:
    parser = argparse.ArgumentParser(description="internal: the fake provider for bench")
    parser.add_argument("--key", required=True)
    parser.add_argument("--dialect", choices=("relay", "openai"), default="relay")
    args = parser.parse_args()
    asyncio.run(serve(args.key, args.dialect))


if __name__ == "__main__":
    main()
