"""The storyboard model: the provider's format both ways, durations, validation."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.errors import StoryboardError
from bot.i18n import t
from bot.profiles import OPENAI, RELAY
from bot.storyboard import (
    MAX_SHOTS,
    Shot,
    Storyboard,
    StoryboardSettings,
    check_scenes,
    fill_durations,
    parse_prompt,
    parse_scene_field,
    render_prompt,
    split_seconds_evenly,
    validate_storyboard,
)

# The contract's own example, as written there: literal \n, a lost blank line before Shot 3.
SPEC_EXAMPLE = (
    r"Shot 1:\nduration: 5sec\nScene: The fridge door opens. A cute, chubby purple monster "
    r"comes out of it.\n\nShot 2:\nduration: 5sec\nScene: the color of the monster to purple "
    r"Shot 3:\nduration: 5sec\nScene: A second monster comes out right after"
)
MODELS = ["sora-2", "sora-2-pro"]


def board(*scenes: str | tuple[str, int], seconds: int = 15, model: str = "sora-2") -> Storyboard:
    shots = tuple(
        Shot(scene=s) if isinstance(s, str) else Shot(scene=s[0], duration=s[1]) for s in scenes
    )
    return Storyboard(shots=shots, settings=StoryboardSettings(model=model, seconds=seconds))


def error_of(exc: pytest.ExceptionInfo[StoryboardError]) -> str:
    return t(exc.value.key, "en-US", **exc.value.fields)


def test_spec_example_parses_to_three_shots_and_renders_the_intended_shape() -> None:
    shots = parse_prompt(SPEC_EXAMPLE)
    assert [s.scene for s in shots] == [
        "The fridge door opens. A cute, chubby purple monster comes out of it.",
        "the color of the monster to purple",
        "A second monster comes out right after",
    ]
    assert render_prompt(shots) == (
        "Shot 1:\nduration: 5sec\nScene: The fridge door opens. A cute, chubby purple monster "
        "comes out of it.\n\nShot 2:\nduration: 5sec\nScene: the color of the monster to purple"
        "\n\nShot 3:\nduration: 5sec\nScene: A second monster comes out right after"
    )


def test_text_with_every_line_break_lost_parses_the_same() -> None:
    canonical = render_prompt(parse_prompt(SPEC_EXAMPLE))
    flattened = canonical.replace("\n", " ")
    assert render_prompt(parse_prompt(flattened)) == canonical


def test_one_scene_per_line_with_optional_duration_prefix() -> None:
    shots = parse_prompt("A door opens\n\n[10s] A monster steps out\n")
    assert [(s.scene, s.duration) for s in shots] == [
        ("A door opens", None),
        ("A monster steps out", 10),
    ]


@pytest.mark.parametrize("prefix", ["[5s]", "[5 s]", "[5sec]", "【5秒】", " [5] "])
def test_duration_prefix_forms(prefix: str) -> None:
    assert parse_scene_field(f"{prefix} A cat").duration == 5


def test_fractional_duration_names_the_shot() -> None:
    with pytest.raises(StoryboardError) as exc:
        parse_prompt("Shot 1: duration: 2.5sec Scene: a\nShot 2: duration: 5sec Scene: b")
    assert exc.value.key == "storyboard.duration_not_whole"
    assert "Shot 1" in error_of(exc)


def test_text_before_the_first_shot_is_refused_not_dropped() -> None:
    with pytest.raises(StoryboardError) as exc:
        parse_prompt("Here it is: Shot 1: duration: 5sec Scene: a")
    assert exc.value.key == "storyboard.text_before_first_shot"


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [(15, 4, [4, 4, 4, 3]), (10, 3, [4, 3, 3]), (25, 5, [5] * 5), (10, 1, [10])],
)
def test_split_seconds_evenly_gives_the_remainder_to_the_first_shots(
    total: int, count: int, expected: list[int]
) -> None:
    assert split_seconds_evenly(total, count) == expected


def test_untimed_shots_share_what_the_timed_ones_leave() -> None:
    shots = fill_durations([Shot(scene="a", duration=7), Shot(scene="b"), Shot(scene="c")], 15)
    assert [s.duration for s in shots] == [7, 4, 4]


def test_durations_that_do_not_add_up_name_the_shot_to_change() -> None:
    with pytest.raises(StoryboardError) as exc:
        validate_storyboard(board(("a", 5), ("b", 5), ("c", 7)), RELAY, models=MODELS)
    assert exc.value.fields == {
        "total": 17,
        "expected": 15,
        "shot": 3,
        "current": 7,
        "suggested": 5,
    }
    assert error_of(exc) == (
        "The shots add up to 17 s but the video is 15 s. "
        "Change shot 3 from 7 s to 5 s, or pick another length."
    )


def test_too_long_by_more_than_the_last_shot_names_an_earlier_one() -> None:
    with pytest.raises(StoryboardError) as exc:
        validate_storyboard(board(("a", 10), ("b", 5), seconds=10), RELAY, models=MODELS)
    assert exc.value.fields["shot"] == 1
    assert exc.value.fields["suggested"] == 5


def test_timed_shots_leaving_no_room_are_refused() -> None:
    with pytest.raises(StoryboardError) as exc:
        validate_storyboard(board(("a", 10), "b", "c", seconds=10), RELAY, models=MODELS)
    assert exc.value.key == "storyboard.no_time_left"


@pytest.mark.parametrize(
    ("kwargs", "key", "named"),
    [
        ({"seconds": 20}, "storyboard.seconds_not_allowed", "10, 15, 25"),
        ({"seconds": 25}, "storyboard.seconds_needs_pro", "pro model"),
        ({"model": "sora-3"}, "storyboard.model_not_allowed", "sora-2, sora-2-pro"),
    ],
)
def test_settings_the_profile_refuses(kwargs: dict[str, object], key: str, named: str) -> None:
    scenes = {"seconds": 15, "model": "sora-2", **kwargs}
    with pytest.raises(StoryboardError) as exc:
        validate_storyboard(board("a", "b", **scenes), RELAY, models=MODELS)  # type: ignore[arg-type]
    assert exc.value.key == key
    assert named in error_of(exc)


def test_25_seconds_on_a_pro_model_is_fine() -> None:
    valid = validate_storyboard(
        board("a", "b", seconds=25, model="sora-2-pro"), RELAY, models=MODELS
    )
    assert [s.duration for s in valid.shots] == [13, 12]


def test_guild_max_seconds_applies() -> None:
    with pytest.raises(StoryboardError) as exc:
        validate_storyboard(board("a", seconds=15), RELAY, models=MODELS, max_seconds=10)
    assert exc.value.key == "storyboard.seconds_over_max"


def test_openai_profile_values_and_no_relay_fields() -> None:
    valid = validate_storyboard(board("a", "b", seconds=8), OPENAI, models=MODELS)
    assert valid.size == "1280x720"
    settings = StoryboardSettings(model="sora-2", seconds=8, watermark=True)
    with pytest.raises(StoryboardError) as exc:
        validate_storyboard(
            Storyboard(shots=(Shot(scene="a"),), settings=settings), OPENAI, models=MODELS
        )
    assert exc.value.fields["option"] == "watermark"


def test_portrait_size() -> None:
    b = Storyboard(
        shots=(Shot(scene="a"),),
        settings=StoryboardSettings(model="sora-2", seconds=10, orientation="portrait"),
    )
    assert validate_storyboard(b, RELAY, models=MODELS).size == "720x1280"


@pytest.mark.parametrize(
    ("scenes", "key", "shot"),
    [
        (("a", "   "), "storyboard.empty_scene", 2),
        (("a", "x" * 2001), "storyboard.scene_too_long", 2),
        (("fine", "then Shot 9: Scene: sneaky"), "storyboard.scene_has_header", 2),
    ],
)
def test_bad_scenes_name_the_shot(scenes: tuple[str, ...], key: str, shot: int) -> None:
    with pytest.raises(StoryboardError) as exc:
        validate_storyboard(board(*scenes), RELAY, models=MODELS)
    assert exc.value.key == key
    assert exc.value.fields["shot"] == shot
    assert f"Shot {shot}" in error_of(exc)


def test_shot_count_limits() -> None:
    with pytest.raises(StoryboardError) as exc:
        check_scenes([])
    assert exc.value.key == "storyboard.no_shots"
    with pytest.raises(StoryboardError) as exc:
        check_scenes([Shot(scene="a")] * (MAX_SHOTS + 1))
    assert exc.value.key == "storyboard.too_many_shots"


def test_scenes_are_single_spaced_and_free_of_control_characters() -> None:
    assert Shot(scene="  a\n\tb\x00c  ").scene == "a bc"


# Scenes as members might write them: any printable text, mentions and markdown included.
scene_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=1), min_size=1, max_size=80
)


@st.composite
def valid_boards(draw: st.DrawFn) -> tuple[Storyboard, object]:
    profile = draw(st.sampled_from([RELAY, OPENAI]))
    seconds = draw(st.sampled_from([s for s in profile.allowed_seconds if s < 25]))
    count = draw(st.integers(min_value=1, max_value=min(MAX_SHOTS, seconds)))
    scenes = draw(st.lists(scene_text, min_size=count, max_size=count))
    timed = draw(st.booleans())
    durations = split_seconds_evenly(seconds, count) if timed else [None] * count
    shots = tuple(Shot(scene=s, duration=d) for s, d in zip(scenes, durations, strict=True))
    settings = StoryboardSettings(model="sora-2", seconds=seconds)
    return Storyboard(shots=shots, settings=settings), profile


@given(valid_boards())
def test_render_parse_render_is_stable(case: tuple[Storyboard, object]) -> None:
    b, profile = case
    try:
        valid = validate_storyboard(b, profile, models=MODELS)  # type: ignore[arg-type]
    except StoryboardError:
        assume(False)
        return
    rendered = valid.prompt
    reparsed = parse_prompt(rendered)
    assert render_prompt(reparsed) == rendered
    assert [s.scene for s in reparsed] == [s.scene for s in valid.shots]


@given(st.text(max_size=300))
def test_parse_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        shots = parse_prompt(text)
    except StoryboardError:
        return
    for shot in shots:
        assert "\n" not in shot.scene
