"""Logging set up once, by the CLI, with every configured secret masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable


class SecretMaskingFilter(logging.Filter):
    """Replaces any configured secret in a record's final text with `****`.

    Formatting happens here (`getMessage`) so a key passed as a `%s` argument is
    caught too, whichever library logged it.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

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


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> SecretMaskingFilter:
    """Root handler to stderr; quiet discord.py's HTTP chatter; mask secrets."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    mask = SecretMaskingFilter(secrets)
    handler.addFilter(mask)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord.http").setLevel(logging.WARNING)
    logging.getLogger("discord.gateway").setLevel(logging.WARNING)
    return mask
