"""Recognising the provider's safety refusals (`bot.moderation`), the actions they leave
(`bot.job_actions`), and the quick form's fields rebuilt from a one-line storyboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import MAX_MODAL_SHOTS
from bot.job_actions import actions_for
from bot.moderation import classify, failure_key
from bot.profiles import RELAY
from bot.storyboard import prompt_fields, shots_from_fields, shots_from_prompt
from tests.test_job_actions import job_in


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        # OpenAI's videos API and relays passing it through.
        ("moderation_blocked", "Your request was blocked by our moderation system.", "policy"),
        (None, "Your request was blocked by our moderation system.", "policy"),
        (
            "content_policy_violation",
            "Your request was rejected as a result of our safety system.",
            "policy",
        ),
        (
            "content_filter",
            "The response was filtered due to the prompt triggering Azure",
            "policy",
        ),
        ("ResponsibleAIPolicyViolation", "The prompt was flagged.", "policy"),
        (None, "This prompt may violate our content policies.", "policy"),
        ("input_moderation", "Input blocked.", "policy"),
        ("output_moderation", "The generated video did not pass review.", "policy"),
        # A real person, a public figure, a likeness.
        (
            "moderation_blocked",
            "The input image contains a real person. Images of real people are not allowed.",
            "real_person",
        ),
        (None, "This content may depict a public figure.", "real_person"),
        (None, "Request blocked: likeness of a real individual.", "real_person"),
        (
            "InputImageSensitiveContentDetected.PrivacyInformation",
            "The request failed because the input image may contain real person.",
            "real_person",
        ),
        # Someone else's work.
        (
            None,
            "This content may violate our guardrails concerning similarity to third-party content.",
            "copyright",
        ),
        ("moderation_blocked", "The prompt references copyrighted characters.", "copyright"),
        (None, "Blocked: the image contains a trademark.", "copyright"),
        # Chinese relays.
        ("prompt_blocked", "提示词包含违规内容", "policy"),
        ("sensitive_words_detected", "检测到敏感词，请修改后重试", "policy"),
        (None, "内容审核未通过", "policy"),
        (None, "图片中包含真人，无法生成", "real_person"),
        (None, "涉及公众人物肖像", "real_person"),
        (None, "内容可能涉及版权问题", "copyright"),
        (
            "OutputVideoSensitiveContentDetected",
            "The output video may contain sensitive information.",
            "policy",
        ),
    ],
)
def test_safety_refusals_are_recognised(code: str | None, message: str, kind: str) -> None:
    assert classify(code, message) == kind


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (None, "upstream timeout"),
        ("video_generation_failed", "Video generation failed."),
        ("invalid_request", "Unable to process request"),
        ("invalid_value", "Invalid value for 'seconds': must be one of 4, 8, 12."),
        ("rate_limit_exceeded", "Rate limit reached for requests"),
        ("insufficient_quota", "You exceeded your current quota, please check your plan."),
        ("model_not_found", "The model 'sora-3' does not exist"),
        ("invalid_interface", "Personal access token invalid for this interface"),
        (None, "The renderer ran out of memory."),
        (None, "上游超时，请稍后再试"),
        (None, "余额不足"),
        ("-", "failed"),
        (None, None),
    ],
)
def test_ordinary_failures_are_not_moderation(code: str | None, message: str | None) -> None:
    assert classify(code, message) is None


def test_the_key_names_the_kind_and_a_character_has_its_own() -> None:
    assert failure_key("moderation_blocked", "real person") == "moderation.real_person"
    assert failure_key(None, "copyright") == "moderation.copyright"
    assert failure_key(None, "违规") == "moderation.policy"
    assert failure_key(None, "real person", character=True) == "moderation.character"
    assert failure_key(None, "upstream timeout") is None


@pytest.mark.parametrize("state", ["failed", "submit_failed"])
async def test_a_safety_refusal_offers_edit_not_retry(tmp_path: Path, state: str) -> None:
    job = await job_in(tmp_path, state=state, error_key="moderation.real_person")
    assert actions_for(job, RELAY) == ("remix", "details")
    character = await job_in(
        tmp_path, state=state, kind="character", error_key="moderation.character"
    )
    assert actions_for(character, RELAY) == ("details",)
    ordinary = await job_in(tmp_path, state=state, error_key="provider.video_failed")
    assert actions_for(ordinary, RELAY) == ("retry", "remix", "details")


@pytest.mark.parametrize(
    "prompt",
    [
        "[5s] a door opens [8s] a cat walks out",
        "A red kite | it climbs\nit flies away |",
        "A lighthouse in a storm at night.",
        "[2s] one | [2s] two | [2s] three | [2s] four | [1s] five | six",
        "a | b | c | d | e | f | g",
        r"Shot 1:\nduration: 4sec\nScene: A. Shot 2:\nduration: 6sec\nScene: B.",
    ],
)
def test_a_one_line_storyboard_becomes_fields_that_read_back_the_same(prompt: str) -> None:
    fields = prompt_fields(prompt, MAX_MODAL_SHOTS)
    assert 1 <= len(fields) <= MAX_MODAL_SHOTS
    assert shots_from_fields(fields) == shots_from_prompt(prompt)


def test_shots_past_the_form_go_into_its_last_field() -> None:
    fields = prompt_fields("[2s] one | two | [3s] three | four | [1s] five", 4)
    assert fields == [
        "[2s] one",
        "two",
        "[3s] three",
        "Shot 4:\nScene: four\n\nShot 5:\nduration: 1sec\nScene: five",
    ]
