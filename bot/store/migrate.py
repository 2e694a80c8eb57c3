"""The numbered schema changes, one folder per dialect.

`migrations/sqlite/0005_x.sql` and `migrations/postgres/0005_x.sql` are the same change
in each database's words: the same number and name in both folders
(tests/test_migrations.py compares them, and the schemas they build).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from bot.store.db import Dialect


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def migrations(dialect: Dialect) -> list[Migration]:
    folder = resources.files("bot.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(number), name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.number)
