"""A storyboard refused for its timing, played as written: the reel behind Fix's preview.

A refused quick storyboard has no valid timing, so it has no animatic of the real video.
What helps the member mend it is to see what they wrote: every timed shot for its written
length, the untimed ones sharing what is left of the video (at least a second each), a
shot written as 0 s for one second. A shot is held at most for the whole video's length:
a member may type any number of seconds, and a render that long would hold a transcode
slot (which deliveries wait for) as long; its note says what was written. The strip marks where the real video ends and turns
red past it (what the provider would never make); a last card stands for the seconds no
shot fills. A note on each picture that is wrong says why, in the member's language.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.animatic import Reel, ReelShot
from bot.i18n import t
from bot.profiles import ProviderProfile
from bot.storyboard import Shot, StoryboardSettings, split_seconds_evenly

# The refusals of a quick storyboard whose shots don't fill the video's length exactly:
# the ones a played-as-written preview explains.
TIMING_REFUSALS = frozenset(
    {
        "storyboard.durations_mismatch",
        "storyboard.durations_mismatch_shorten",
        "storyboard.no_time_left",
        "storyboard.too_many_shots_for_seconds",
        "storyboard.duration_too_short",
    }
)


def _held(shots: Sequence[Shot], seconds: int) -> list[tuple[int, str | None]]:
    """Each shot's seconds on screen, and which note explains them (a catalogue key)."""
    timed = sum(max(1, s.duration) for s in shots if s.duration is not None)
    untimed = [n for n, s in enumerate(shots) if s.duration is None]
    shares = iter(split_seconds_evenly(max(0, seconds - timed), len(untimed)))
    held: list[tuple[int, str | None]] = []
    for shot in shots:
        if shot.duration is None:
            share = next(shares)
            held.append((share, None) if share >= 1 else (1, "fix.preview_no_time"))
        elif shot.duration < 1:
            held.append((1, "fix.preview_too_short"))
        else:
            held.append((shot.duration, None))
    return held


def written_seconds(shots: Sequence[Shot], seconds: int) -> int:
    """How long `shots` play as written against a `seconds` video (before any shot is
    held to the video's length)."""
    return sum(held for held, _ in _held(shots, seconds))


def written_reel(
    shots: Sequence[Shot],
    settings: StoryboardSettings,
    profile: ProviderProfile,
    locale: str,
) -> Reel:
    """`shots` as written, against a `settings.seconds` video: see the module."""
    video = settings.seconds
    reel: list[ReelShot] = []
    start = 0
    for shot, (seconds, key) in zip(shots, _held(shots, video), strict=True):
        notes = [] if key is None else [t(key, locale, written=shot.duration or 0)]
        if seconds > video:
            notes.append(t("fix.preview_too_long", locale, written=seconds, video=video))
            seconds = video
        over = start + seconds - max(start, video)
        if over > 0:
            notes.append(t("fix.preview_past_end", locale, over=over, video=video))
        reel.append(ReelShot(scene=shot.scene, seconds=seconds, note=" ".join(notes)))
        start += seconds
    if start < video:
        gap = video - start
        note = t("fix.preview_gap", locale, gap=gap, video=video)
        reel.append(ReelShot(scene="", seconds=gap, note=note, numbered=False))
    return Reel(shots=tuple(reel), size=profile.size_for(settings.orientation), video_seconds=video)
