"""The storyboard: shots and settings, the provider's prompt format, and validation.

A storyboard renders to exactly the provider's format::

    Shot 1:
    duration: 5sec
    Scene: The fridge door opens.

    Shot 2:
    ...

and parses back from it, also when the line breaks were lost or written as
literal ``\\n`` (as in the provider's own example). Scenes are kept as one line
of single-spaced text: the format is line-based, so a newline inside a scene
could not survive a round trip.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.errors import StoryboardError
from bot.profiles import Orientation, ProviderProfile

MAX_SHOTS = 10
MAX_SCENE_CHARS = 2000

# One shot header: `Shot 2:` then an optional `duration: 5sec`, then `Scene:`.
# Full-width colons are accepted because members typing Chinese often use them.
_HEADER = re.compile(
    r"shot\s*(?P<num>\d+)\s*[:：]\s*"
    r"(?:duration\s*[:：]\s*(?P<dur>[0-9]+(?:[.,][0-9]+)?)\s*"
    r"(?:seconds|second|secs|sec|s)?\s*[,;]?\s*)?"
    r"scene\s*[:：]",
    re.IGNORECASE,
)
# `[5s]` (or `[5 s]`, `[5sec]`, `【5s】`) in front of a scene sets its duration.
_DURATION_PREFIX = re.compile(
    r"^\s*[\[【(（]\s*(?P<dur>[0-9]+(?:[.,][0-9]+)?)\s*(?:seconds|second|secs|sec|s|秒)?\s*[\]】)）]\s*",
    re.IGNORECASE,
)


def normalise_scene(text: str) -> str:
    """One line, single spaces, no control characters."""
    cleaned = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch.isspace())
    return " ".join(cleaned.split())


class Shot(BaseModel):
    model_config = ConfigDict(frozen=True)

    scene: str
    # Whole seconds; None means "share what is left evenly".
    duration: int | None = None
    author_id: int | None = None

    @field_validator("scene", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return normalise_scene(value) if isinstance(value, str) else value


class StoryboardSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    seconds: int
    orientation: Orientation = "landscape"
    watermark: bool = False
    private: bool = False
    character_create: bool = False


class Storyboard(BaseModel):
    """What a member asked for, before validation."""

    model_config = ConfigDict(frozen=True)

    shots: tuple[Shot, ...]
    settings: StoryboardSettings


class ValidStoryboard(BaseModel):
    """A storyboard that passed validation: every shot has its duration."""

    model_config = ConfigDict(frozen=True)

    shots: tuple[Shot, ...] = Field(min_length=1)
    settings: StoryboardSettings
    size: str

    @property
    def prompt(self) -> str:
        return render_prompt(self.shots)


def _whole_seconds(raw: str, shot: int) -> int:
    if not raw.isdigit():
        raise StoryboardError("storyboard.duration_not_whole", shot=shot, value=raw)
    return int(raw)


def render_prompt(shots: Sequence[Shot]) -> str:
    """The provider's prompt text. Every shot must have a duration."""
    blocks = []
    for number, shot in enumerate(shots, start=1):
        if shot.duration is None:
            raise ValueError(f"shot {number} has no duration; fill durations first")
        blocks.append(f"Shot {number}:\nduration: {shot.duration}sec\nScene: {shot.scene}")
    return "\n\n".join(blocks)


def parse_scene_field(text: str, *, author_id: int | None = None, shot: int = 1) -> Shot:
    """One modal field or one line: a scene with an optional `[5s]` prefix."""
    match = _DURATION_PREFIX.match(text)
    if match is None:
        return Shot(scene=text, author_id=author_id)
    duration = _whole_seconds(match["dur"], shot)
    return Shot(scene=text[match.end() :], duration=duration, author_id=author_id)


def _unescape_newlines(text: str) -> str:
    # The provider's own example writes line breaks as literal \n; members copy it.
    if "\\n" in text and "\n" not in text:
        return text.replace("\\n", "\n")
    return text


def parse_prompt(text: str, *, author_id: int | None = None) -> list[Shot]:
    """Shots from the provider's format, or from one scene per line.

    Empty scenes are kept (as empty) so validation can name the shot.
    """
    text = _unescape_newlines(text)
    headers = list(_HEADER.finditer(text))
    if not headers:
        lines = [line for line in text.splitlines() if line.strip()]
        return [
            parse_scene_field(line, author_id=author_id, shot=number)
            for number, line in enumerate(lines, start=1)
        ]
    if text[: headers[0].start()].strip():
        raise StoryboardError("storyboard.text_before_first_shot")
    shots = []
    for number, header in enumerate(headers, start=1):
        end = headers[number].start() if number < len(headers) else len(text)
        raw = header["dur"]
        duration = None if raw is None else _whole_seconds(raw, number)
        shots.append(Shot(scene=text[header.end() : end], duration=duration, author_id=author_id))
    return shots


def split_seconds_evenly(total: int, count: int) -> list[int]:
    """`total` seconds over `count` shots; the remainder goes to the first shots."""
    if count <= 0:
        return []
    base, extra = divmod(total, count)
    return [base + 1 if i < extra else base for i in range(count)]


def fill_durations(shots: Sequence[Shot], seconds: int) -> list[Shot]:
    """Give every shot a duration so they add up to `seconds`, or say which shot to change."""
    for number, shot in enumerate(shots, start=1):
        if shot.duration is not None and shot.duration < 1:
            raise StoryboardError("storyboard.duration_too_short", shot=number)
    given = [s.duration for s in shots if s.duration is not None]
    missing = [i for i, s in enumerate(shots) if s.duration is None]
    if not missing:
        total = sum(given)
        if total != seconds:
            raise _mismatch(shots, total, seconds)
        return list(shots)
    left = seconds - sum(given)
    if left < len(missing):
        if not given:
            raise StoryboardError(
                "storyboard.too_many_shots_for_seconds", shots=len(shots), seconds=seconds
            )
        raise StoryboardError(
            "storyboard.no_time_left", given=sum(given), seconds=seconds, untimed=len(missing)
        )
    shares = iter(split_seconds_evenly(left, len(missing)))
    return [
        s if s.duration is not None else s.model_copy(update={"duration": next(shares)})
        for s in shots
    ]


def _mismatch(shots: Sequence[Shot], total: int, seconds: int) -> StoryboardError:
    # Name the last shot that can absorb the whole difference on its own.
    change = seconds - total
    for number in range(len(shots), 0, -1):
        current = shots[number - 1].duration or 0
        if current + change >= 1:
            return StoryboardError(
                "storyboard.durations_mismatch",
                total=total,
                expected=seconds,
                shot=number,
                current=current,
                suggested=current + change,
            )
    return StoryboardError("storyboard.durations_mismatch_shorten", total=total, expected=seconds)


def _invisible(scene: str) -> bool:
    """Nothing to read: empty, or only spaces and zero-width, joiner and direction marks
    (format characters), which Discord's required field lets through."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in scene)


def check_scenes(shots: Sequence[Shot]) -> None:
    if not shots:
        raise StoryboardError("storyboard.no_shots")
    if len(shots) > MAX_SHOTS:
        raise StoryboardError("storyboard.too_many_shots", count=len(shots), max=MAX_SHOTS)
    for number, shot in enumerate(shots, start=1):
        if _invisible(shot.scene):
            raise StoryboardError("storyboard.empty_scene", shot=number)
        if len(shot.scene) > MAX_SCENE_CHARS:
            raise StoryboardError(
                "storyboard.scene_too_long",
                shot=number,
                length=len(shot.scene),
                max=MAX_SCENE_CHARS,
            )
        if _HEADER.search(shot.scene):
            raise StoryboardError("storyboard.scene_has_header", shot=number)


def check_settings(
    settings: StoryboardSettings,
    profile: ProviderProfile,
    *,
    models: Iterable[str],
    max_seconds: int | None = None,
) -> None:
    allowed_models = list(models)
    if settings.model not in allowed_models:
        raise StoryboardError(
            "storyboard.model_not_allowed", model=settings.model, allowed=tuple(allowed_models)
        )
    if settings.seconds not in profile.allowed_seconds:
        raise StoryboardError(
            "storyboard.seconds_not_allowed",
            seconds=settings.seconds,
            allowed=tuple(profile.allowed_seconds),
        )
    if max_seconds is not None and settings.seconds > max_seconds:
        raise StoryboardError(
            "storyboard.seconds_over_max", seconds=settings.seconds, max=max_seconds
        )
    if settings.seconds in profile.pro_only_seconds and not profile.is_pro_model(settings.model):
        raise StoryboardError(
            "storyboard.seconds_needs_pro", seconds=settings.seconds, model=settings.model
        )
    for option in ("watermark", "private", "character_create"):
        if getattr(settings, option) and not profile.allows(option):
            raise StoryboardError(
                "storyboard.option_not_supported", option=option, profile=profile.name
            )


def validate_storyboard(
    board: Storyboard,
    profile: ProviderProfile,
    *,
    models: Iterable[str],
    max_seconds: int | None = None,
) -> ValidStoryboard:
    """Everything the provider would refuse, refused here first with the shot at fault."""
    check_scenes(board.shots)
    check_settings(board.settings, profile, models=models, max_seconds=max_seconds)
    shots = fill_durations(board.shots, board.settings.seconds)
    return ValidStoryboard(
        shots=tuple(shots),
        settings=board.settings,
        size=profile.size_for(board.settings.orientation),
    )


# A `[5s]` mark anywhere in a one-line storyboard starts a new shot (square brackets only:
# a `(2s)` inside a scene is more likely prose than a mark).
_INLINE_MARK = re.compile(
    r"[\[【]\s*[0-9]+(?:[.,][0-9]+)?\s*(?:seconds|second|secs|sec|s|秒)?\s*[\]】]",
    re.IGNORECASE,
)


def shots_from_prompt(text: str, *, author_id: int | None = None) -> list[Shot]:
    """Shots from the `/storyboard prompt:` option: a whole storyboard typed on one line.

    The provider's format parses as `parse_prompt` does. Otherwise shots split on line
    breaks, on `|`, and before every `[5s]` mark; pieces left empty are dropped, and one
    scene alone is one shot of the whole length.
    """
    if _HEADER.search(_unescape_newlines(text)):
        return parse_prompt(text, author_id=author_id)
    return [
        parse_scene_field(scene, author_id=author_id, shot=number)
        for number, scene in enumerate(_prompt_pieces(text), start=1)
    ]


def _prompt_pieces(text: str) -> list[str]:
    """The scenes of a one-line storyboard not in the provider's format, marks kept."""
    pieces: list[str] = []
    for part in re.split(r"[\n|｜]", _unescape_newlines(text)):
        starts = [m.start() for m in _INLINE_MARK.finditer(part)]
        bounds = [0, *[s for s in starts if s > 0], len(part)]
        pieces += [part[a:b] for a, b in itertools.pairwise(bounds)]
    return [p for p in pieces if not _invisible(p)]


def prompt_fields(text: str, max_fields: int) -> list[str]:
    """A one-line storyboard as the quick form's fields, which `shots_from_fields` reads
    back as the same shots: one scene a field, and past `max_fields` the rest in the
    last field in the provider's format. A storyboard in that format stays whole."""
    if _HEADER.search(_unescape_newlines(text)):
        return [text]
    pieces = [p.strip() for p in _prompt_pieces(text)]
    if len(pieces) <= max_fields:
        return pieces or [text]
    head, rest = pieces[: max_fields - 1], pieces[max_fields - 1 :]
    return [*head, "\n\n".join(_as_header(n, p) for n, p in enumerate(rest, start=len(head) + 1))]


def _as_header(number: int, piece: str) -> str:
    try:
        shot = parse_scene_field(piece, shot=number)
    except StoryboardError:  # a bad mark stays as typed, for the member to correct
        return f"Shot {number}:\nScene: {piece}"
    duration = "" if shot.duration is None else f"duration: {shot.duration}sec\n"
    return f"Shot {number}:\n{duration}Scene: {shot.scene}"


def shots_from_fields(texts: Sequence[str], *, author_id: int | None = None) -> list[Shot]:
    """Shots from modal fields: one scene each, or a pasted storyboard that expands.

    A field holding the provider's format (or text with `Shot N:` headers)
    becomes every shot in it, so a member can paste a whole storyboard into
    the first field.
    """
    shots: list[Shot] = []
    for text in texts:
        if _HEADER.search(_unescape_newlines(text)):
            shots.extend(parse_prompt(text, author_id=author_id))
        else:
            shots.append(parse_scene_field(text, author_id=author_id, shot=len(shots) + 1))
    return shots
