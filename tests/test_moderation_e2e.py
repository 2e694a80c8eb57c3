"""The provider's safety check (issue 12), end to end: a refusal at create or a task failed
later is told as what to change, the provider's own words only in Details, and the next
step is Edit & redo (or Fix on the quick form's reply), never Retry: an old Retry button
makes nothing."""

from __future__ import annotations

import copy
from typing import Any

from bot.i18n import t
from bot.store import Job
from tests.fake_discord import InteractionHandle
from tests.fake_discord.models import Member
from tests.fake_provider import Fault
from tests.harness import World, followup_text
from tests.test_commands_tree import english_in
from tests.test_fix_e2e import field_values, fix_message, press_fix, reply_buttons, said
from tests.test_money_e2e import answered, button_ids, card_of, delivered, posts_in

REAL_PERSON = (
    "Your request was blocked by our moderation system: the prompt may depict a real person."
)
THIRD_PARTY = (
    "This content may violate our guardrails concerning similarity to third-party content."
)


def refusal_body(message: str, code: str = "moderation_blocked") -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": "prompt",
            "code": code,
        }
    }


async def press(
    world: World, message: dict[str, Any] | int, custom_id: str, user: Member | None = None
) -> InteractionHandle:
    ix = await world.fd.press_button(
        message, custom_id, user=user or world.std.alice, stale=isinstance(message, dict)
    )
    await ix.wait_callback()
    return ix


def progress_line(world: World, job: Job, locale: str = "en-US") -> str:
    embed = card_of(world, job.card_message_id)["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    return fields.get(t("card.progress", locale), "")


def with_retry_button(card: dict[str, Any], job_id: int) -> dict[str, Any]:
    """A copy of the card as a member's client may still show it: with Retry on it (what a
    failed card offered before safety refusals were recognised)."""
    old = copy.deepcopy(card)
    button = {"type": 2, "style": 1, "label": "Retry", "custom_id": f"sb:retry:{job_id}"}
    old["components"] = [{"type": 1, "components": [button]}]
    return old


async def failed_by_the_safety_check(world: World, *scenes: str, user: Member | None = None) -> Job:
    job = await world.submitted_job(*scenes, user=user)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    assert job.state == "failed"
    await world.wait_until(
        lambda: (
            button_ids(card_of(world, job.card_message_id))
            == [f"sb:remix:{job.id}", f"sb:details:{job.id}"]
        )
    )
    return job


# 1. Refused at create


async def test_a_safety_refusal_at_create_says_what_to_change_and_offers_fix_not_retry(
    world: World,
) -> None:
    world.provider.inject(
        Fault(route="create", kind="status", status=400, body=refusal_body(REAL_PERSON))
    )
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A famous actor waves."])
    [job] = await world.jobs()
    assert (job.state, job.error_key) == ("submit_failed", "moderation.real_person")
    text = followup_text(sub)
    assert text.startswith(
        "Your storyboard was not submitted. The video service's safety check refused this: it seems"
        " to show a real person. Describe a fictional character instead, then edit and send it"
        " again.\nPress **Fix** to open the form again with your text."
    )
    assert "A famous actor waves." in text  # the member's text back
    assert REAL_PERSON not in text  # the provider's words are in Details only
    # Fix (the form again) and Details: no Retry, which would be refused the same way.
    _, fix_id = fix_message(sub)
    assert reply_buttons(sub) == [fix_id, f"sb:details:{job.id}"]
    message, _ = fix_message(sub)
    details = await press(world, message, f"sb:details:{job.id}")
    shown = await answered(world, details)
    assert "The video service said (code `moderation_blocked`):" in shown
    assert REAL_PERSON in shown

    # An old Retry on this job makes nothing.
    old = with_retry_button(message, job.id)
    retry = await press(world, old, f"sb:retry:{job.id}")
    assert said(retry) == (
        f"Video #{job.id} is now: Not submitted. That button no longer applies, and nothing was sent."
    )
    assert len(world.provider.requests_to("create")) == 1

    # Fix: the form with the text, changed and sent once.
    fix = await press_fix(world, sub)
    assert field_values(fix) == ["A famous actor waves."]
    done = await world.submit(fix, ["A cartoon fox waves."])
    assert "is queued" in followup_text(done)
    creates = world.provider.requests_to("create")
    assert len(creates) == 2
    assert creates[-1].fields["prompt"] == "Shot 1:\nduration: 10sec\nScene: A cartoon fox waves."


async def test_an_ordinary_refusal_at_create_still_shows_the_providers_words_with_fix(
    world: World,
) -> None:
    world.provider.inject(
        Fault(
            route="create",
            kind="status",
            status=400,
            body=refusal_body("Prompt must not exceed 3 shots", code="invalid_value"),
        )
    )
    ix = await world.open_storyboard(shots=1, seconds=10)
    sub = await world.submit(ix, ["A cat."])
    [job] = await world.jobs()
    assert job.error_key == "provider.rejected"
    assert "The video service refused the request: Prompt must not exceed 3 shots" in (
        followup_text(sub)
    )
    _, fix_id = fix_message(sub)
    assert reply_buttons(sub) == [fix_id, f"sb:details:{job.id}"]


# 2. A task the provider fails later


async def test_a_task_failed_by_the_safety_check_offers_edit_and_details_not_retry(
    world: World,
) -> None:
    world.provider.set_outcome(None, "fail", code="moderation_blocked", message=THIRD_PARTY)
    job = await failed_by_the_safety_check(world, "A famous mouse sings.")
    assert job.error_key == "moderation.copyright"
    sentence = t("moderation.copyright", "en-US")
    assert sentence == (
        "The video service's safety check refused this: it seems to use someone else's work"
        " (a known character, brand or film). Describe your own instead, then edit and send"
        " it again."
    )
    await world.wait_until(lambda: progress_line(world, job) != "")
    assert progress_line(world, job) == sentence
    [told] = [c for c in posts_in(world, job.thread_id) if "safety check" in c.json["content"]]
    assert told.json["content"] == (
        f"<@{job.user_id}> video #{job.id} was not made."
        f" {sentence} The video service's own words are under Details on the card."
    )
    assert THIRD_PARTY not in repr(card_of(world, job.card_message_id))
    assert THIRD_PARTY not in told.json["content"]

    details = await press(world, job.card_message_id or 0, f"sb:details:{job.id}")
    assert THIRD_PARTY in await answered(world, details)

    # Retry from a card drawn before: refused by the same table, nothing created.
    old = with_retry_button(card_of(world, job.card_message_id), job.id)
    retry = await press(world, old, f"sb:retry:{job.id}")
    assert said(retry) == (
        f"Video #{job.id} is now: Failed. That button no longer applies, and nothing was sent."
    )
    assert len(world.provider.requests_to("create")) == 1
    assert [j.id for j in await world.jobs()] == [job.id]

    # Edit & redo is the way on: it opens the storyboard to change.
    remix = await press(world, job.card_message_id or 0, f"sb:remix:{job.id}")
    assert remix.modal is not None


async def test_a_safety_failure_in_chinese_says_what_to_change_in_chinese(world: World) -> None:
    world.std.guild.preferred_locale = "zh-CN"  # the card and the thread: the server's language
    world.provider.set_outcome(None, "fail", code="-", message="视频内容涉及真人，审核未通过")
    job = await failed_by_the_safety_check(world, "一位名人在跳舞。", user=world.std.bob)
    assert job.error_key == "moderation.real_person"
    sentence = t("moderation.real_person", "zh-CN")
    await world.wait_until(lambda: progress_line(world, job, "zh-CN") != "")
    assert progress_line(world, job, "zh-CN") == sentence
    [told] = [c for c in posts_in(world, job.thread_id) if "安全审核" in c.json["content"]]
    content = str(told.json["content"])
    assert content == (
        f"<@{job.user_id}> 视频 #{job.id} 没有生成。{sentence}卡片上的“详情”里有视频服务商的原话。"
    )
    assert "涉及真人，审核未通过" not in content
    assert english_in(told, "delivery", content) == []
    labels = [
        b["label"] for b in card_of(world, job.card_message_id)["components"][0]["components"]
    ]
    assert labels == ["修改重做", "详情"]


async def test_a_character_refused_by_the_safety_check_offers_details_only(world: World) -> None:
    world.provider.set_outcome(None, "fail", message="The clip shows a real person.")
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="character create",
        options={"url": "https://videos.example/monster.mp4", "range": "2,4", "name": "Blob"},
    )
    await world.wait_reply(ix)
    [job] = await world.jobs()
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    assert (await world.job(job.id)).error_key == "moderation.character"
    await world.wait_until(
        lambda: button_ids(card_of(world, job.card_message_id)) == [f"sb:details:{job.id}"]
    )
    told = [str(c.json["content"]) for c in posts_in(world, job.thread_id)]
    assert any(t("moderation.character", "en-US") in text for text in told)
