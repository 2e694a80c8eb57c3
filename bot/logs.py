"""Logging set up once, by the CLI, with every configured secret masked.

Text for a terminal, or (`[ops] log_format = "json"`) one JSON object per line
for a log collector. Either way the mask runs first, so no key reaches a line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterable
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]


class SecretMaskingFilter(logging.Filter):
    """Replaces any configured secret in a record's final text with `****`.

    Formatting happens here (`getMessage`) so a key passed as a `%s` argument is
    caught too, whichever library logged it.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these too (a config reload brings new keys); old ones stay masked."""
        self.secrets = sorted({*self.secrets, *(s for s in secrets if s)}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "****")
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = record.exc_text
        if exc_text:
            for secret in self.secrets:
                exc_text = exc_text.replace(secret, "****")
            record.exc_text = exc_text
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message[, exc];
    with `process`, which process of a fleet wrote it (its shards)."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.process:
            entry["process"] = self.process
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def mask_more_secrets(secrets: Iterable[str]) -> None:
    """Teach every masking filter on the root handlers about new secrets."""
    values = list(secrets)
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, SecretMaskingFilter):
                found.add(values)


def setup_logging(
    level: str = "INFO",
    secrets: Iterable[str] = (),
    fmt: LogFormat = "text",
    *,
    stream: TextIO | None = None,
    process: str | None = None,
) -> SecretMaskingFilter:
    """Root handler to stderr (or `stream`); quiet discord.py's HTTP chatter; mask secrets.

    `process` names this process in every line (a fleet's shards, "shards 0, 1 of 4"), so
    a job's story can be followed across processes and reshards."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        where = f"[{process}] " if process else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)-7s {where}%(name)s: %(message)s")
        )
    mask = SecretMaskingFilter(secrets)
    handler.addFilter(mask)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord.http").setLevel(logging.WARNING)
    logging.getLogger("discord.gateway").setLevel(logging.WARNING)
    return mask
