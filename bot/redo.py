"""Edit & redo: a finished job's storyboard as text to change, and the shots read back.

The form shows one line per shot, `[6s] The scene.`, the syntax `parse_prompt` reads
(a `[Ns]` prefix sets the shot's length), so an untouched form makes the same shots.
The member may pick another length in the same form; the `[Ns]` marks they left as they
were then follow it (scaled to the new length), so changing only the length works
without retyping every mark. Marks they changed are theirs and are checked as typed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.storyboard import Shot, parse_prompt


def prefill(shots: Sequence[Shot]) -> str:
    """`[6s] scene`, one line per shot (scenes are one line already: `normalise_scene`)."""
    return "\n".join(
        f"[{s.duration}s] {s.scene}" if s.duration is not None else s.scene for s in shots
    )


def scaled(durations: Sequence[int], seconds: int) -> list[int] | None:
    """`durations` stretched or shrunk to add up to `seconds`, each at least 1 s, keeping
    their proportions as far as whole seconds allow; None when that can't be done."""
    total = sum(durations)
    if total <= 0 or seconds < len(durations) or any(d < 1 for d in durations):
        return None
    exact = [d * seconds / total for d in durations]
    out = [max(1, math.floor(x)) for x in exact]
    # Hand out (or take back) the seconds rounding left over, biggest shortfall first.
    while sum(out) < seconds:
        i = max(range(len(out)), key=lambda j: exact[j] - out[j])
        out[i] += 1
    while sum(out) > seconds:
        i = max((j for j in range(len(out)) if out[j] > 1), key=lambda j: out[j] - exact[j])
        out[i] -= 1
    return out


def redo_shots(
    text: str, *, before: Sequence[Shot], seconds: int, author_id: int | None = None
) -> list[Shot]:
    """The shots the member submitted for a video of `seconds`.

    When every `[Ns]` mark is still the one the form was prefilled with (`before`) and
    only the length changed, the marks are scaled to the new length; anything else is
    read exactly as typed (validation then names a shot whose marks don't add up).
    """
    shots = parse_prompt(text, author_id=author_id)
    typed = [s.duration for s in shots]
    prefilled = [s.duration for s in before]
    if typed != prefilled or sum(d or 0 for d in typed) == seconds:
        return shots
    new = scaled([d or 0 for d in typed], seconds)
    if new is None:
        return shots
    return [s.model_copy(update={"duration": d}) for s, d in zip(shots, new, strict=True)]
