"""First contact, unit level: the one-line prompt's splitting and the form's custom_id."""

from __future__ import annotations

import pytest

from bot.storyboard import StoryboardSettings, shots_from_prompt
from cogs.storyboard import CUSTOM_ID_MAX, QuickForm, form_title


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[5s] a door opens [5s] a cat walks out", [(5, "a door opens"), (5, "a cat walks out")]),
        ("a | b|c |", [(None, "a"), (None, "b"), (None, "c")]),
        ("one\n\ntwo", [(None, "one"), (None, "two")]),
        ("【3秒】猫｜【7秒】狗", [(3, "猫"), (7, "狗")]),
        ("intro [4s] then this", [(None, "intro"), (4, "then this")]),
        ("a cat (2s) blinks", [(None, "a cat (2s) blinks")]),
        ("only one scene", [(None, "only one scene")]),
        (r"Shot 1:\nduration: 4sec\nScene: A.", [(4, "A.")]),
    ],
)
def test_shots_from_prompt(text: str, expected: list[tuple[int | None, str]]) -> None:
    assert [(s.duration, s.scene) for s in shots_from_prompt(text)] == expected


def settings(model: str = "sora-2", **kw: object) -> StoryboardSettings:
    return StoryboardSettings.model_validate({"model": model, "seconds": 15, **kw})


def test_the_form_id_round_trips_every_setting() -> None:
    board = settings(orientation="portrait", watermark=True, private=True, character_create=True)
    form = QuickForm(nonce="1" * 20, settings=board, shots=4, with_image=True, stash_id=10**18)
    custom_id = form.custom_id(("sora-2",))
    assert len(custom_id) <= CUSTOM_ID_MAX
    assert QuickForm.parse(custom_id, ("sora-2",)) == form


def test_a_long_model_name_is_sent_as_its_index() -> None:
    long_model = "m" * 90
    form = QuickForm(nonce="1" * 20, settings=settings(long_model), shots=2)
    custom_id = form.custom_id(("sora-2", long_model))
    assert len(custom_id) <= CUSTOM_ID_MAX and custom_id.endswith(":#1")
    assert QuickForm.parse(custom_id, ("sora-2", long_model)) == form
    # The list changed under it (a reload): no such index, no guessing.
    assert QuickForm.parse(custom_id, ("sora-2",)) is None
    assert QuickForm.parse("sb:quick:123", ("sora-2",)) is None


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_title_fits_discords_45_characters(locale: str) -> None:
    assert form_title(settings(), "en-US") == "15 s · landscape · sora-2"
    title = form_title(settings("sora-2-pro-" + "x" * 80), locale)
    assert len(title) == 45 and title.endswith("…")
