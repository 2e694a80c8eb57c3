"""Errors a member or admin can act on.

The core raises these with a catalogue key and the fields the message needs; the
Discord side (or the CLI) turns them into words in the reader's language. Nothing
here carries exception text from a library: that never reaches a user.
"""

from __future__ import annotations


class StoryboardError(Exception):
    """Something the user can fix; `key` names the message in the catalogue."""

    def __init__(self, key: str, **fields: object) -> None:
        super().__init__(key)
        self.key = key
        self.fields: dict[str, object] = fields

    def __repr__(self) -> str:
        return f"StoryboardError({self.key!r}, {self.fields!r})"
