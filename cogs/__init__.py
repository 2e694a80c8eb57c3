"""Discord-facing extensions, one per feature area."""
