"""The reel Watch timing plays (`bot.timing_preview.written_reel`): a refused storyboard's
shots as the member timed them, against the real video's length, with notes in their
language on the pictures that are wrong."""

from __future__ import annotations

from PIL import Image

from bot.animatic import NOTE, Reel, shot_picture
from bot.i18n import t
from bot.profiles import get_profile
from bot.storyboard import Shot, StoryboardSettings
from bot.timing_preview import written_reel

RELAY = get_profile("relay")


def reel(*durations: int | None, seconds: int = 10, locale: str = "en-US") -> Reel:
    shots = [Shot(scene=f"Shot {n}.", duration=d) for n, d in enumerate(durations, start=1)]
    settings = StoryboardSettings(model="sora-2", seconds=seconds, orientation="portrait")
    return written_reel(shots, settings, RELAY, locale)


def timing(r: Reel) -> list[tuple[int, str, bool]]:
    return [(s.seconds, s.note, s.numbered) for s in r.shots]


def past(over: int, video: int = 10, locale: str = "en-US") -> str:
    return t("fix.preview_past_end", locale, over=over, video=video)


def test_shots_longer_than_the_video_play_as_written_and_say_what_is_cut() -> None:
    r = reel(5, 8)
    assert timing(r) == [(5, "", True), (8, past(3), True)]
    assert (r.seconds, r.video_seconds, r.size) == (13, 10, "720x1280")


def test_a_shot_wholly_past_the_end_says_all_of_it_is_cut() -> None:
    assert timing(reel(10, 4)) == [(10, "", True), (4, past(4), True)]


def test_a_shot_longer_than_the_whole_video_is_held_for_the_videos_length() -> None:
    """Any number of seconds can be typed; the render is never longer than a shot per
    video length, and the note says what was written."""
    too_long = t("fix.preview_too_long", "en-US", written=10**9, video=10)
    r = reel(2, 10**9)
    assert timing(r) == [(2, "", True), (10, f"{too_long} {past(2)}", True)]
    assert r.seconds == 12


def test_seconds_no_shot_fills_are_a_card_of_their_own() -> None:
    gap = t("fix.preview_gap", "en-US", gap=3, video=10)
    assert timing(reel(3, 4)) == [(3, "", True), (4, "", True), (3, gap, False)]


def test_untimed_shots_with_no_time_left_are_shown_a_second_each() -> None:
    no_time = t("fix.preview_no_time", "en-US")
    assert timing(reel(9, None, None)) == [
        (9, "", True),
        (1, "", True),
        (1, f"{no_time} {past(1)}", True),
    ]
    assert [s.seconds for s in reel(None, None, None, None, None, seconds=4).shots] == [1] * 5


def test_a_zero_second_shot_is_shown_a_second_and_said_to_be_too_short() -> None:
    short = t("fix.preview_too_short", "zh-CN", written=0)
    assert timing(reel(0, 10, locale="zh-CN")) == [
        (1, short, True),
        (10, past(1, locale="zh-CN"), True),
    ]


def test_a_storyboard_that_adds_up_plays_with_no_note() -> None:
    assert timing(reel(4, None, 2)) == [(4, "", True), (4, "", True), (2, "", True)]


def reds(picture: Image.Image) -> int:
    """Pixels of the notes' red, give or take the blend with what is under it."""
    return sum(
        1
        for pixel in picture.convert("RGB").get_flattened_data()
        if pixel[0] > 150 and pixel[1] < 90 and pixel[2] < 90
    )


def test_the_note_is_drawn_on_the_picture() -> None:
    r = reel(5, 8)
    plain, noted = shot_picture(r, 0), shot_picture(r, 1)
    assert reds(noted) > 20 * reds(plain) + 1000
    assert NOTE[0] > 150  # the colour counted is the notes'
