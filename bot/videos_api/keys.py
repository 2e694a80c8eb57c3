"""Naming an API key without holding it.

A job remembers which key made it by fingerprint: enough to use the same key
again while this process has seen it, useless to anyone reading the database.
"""

from __future__ import annotations

import hashlib

from pydantic import SecretStr


def key_fingerprint(key: SecretStr) -> str:
    """The first 16 hex digits of the key's SHA-256: safe to store and log."""
    return hashlib.sha256(key.get_secret_value().encode()).hexdigest()[:16]
