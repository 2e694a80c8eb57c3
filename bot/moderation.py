"""Recognising a provider's safety refusal, so the member is told what to change.

A refusal at create (a 4xx with a code and a sentence) and a task that fails later
look alike from here: a code, maybe, and the provider's own words, in English or
Chinese. `classify` reads both and names the kind of refusal, or None for an ordinary
failure (a timeout, a bad parameter, an outage), which keeps its usual handling.

The kinds decide the member's next step: a moderation refusal is never retried as it
was (the same text is refused again); the member edits it first (`bot.job_actions`).
"""

from __future__ import annotations

import re
from typing import Literal

ModerationKind = Literal["real_person", "copyright", "policy"]
# The error key a moderation refusal is stored under: `moderation.<kind>`.
KEY_PREFIX = "moderation."

# Codes relays and providers send for a safety refusal (OpenAI `moderation_blocked`,
# `content_policy_violation`; Azure `content_filter`, `ResponsibleAIPolicyViolation`;
# BytePlus `InputTextSensitiveContentDetected`; new-api `sensitive_words_detected`),
# matched as parts of the code, case and separators ignored.
_CODE_PARTS = (
    "moderat",
    "contentpolic",
    "contentfilter",
    "policyviolation",
    "sensitive",
    "safety",
    "guardrail",
    "nsfw",
    "censor",
)
# Whole words only where a part could hide in another word ("face" in "interface").
_CODE_REAL_PERSON = (
    "privacy",
    "realperson",
    "realpeople",
    "publicfigure",
    "humanface",
    "celebrit",
    "likeness",
    "persongeneration",
)
_CODE_COPYRIGHT = ("copyright", "trademark", "thirdparty", "intellectualproperty")

# The provider's own sentence. More specific kinds first: a message about a real person
# or someone else's work is a safety refusal even without the word "policy".
_REAL_PERSON = re.compile(
    r"real[- ](?:person|people|human|individual)|public[- ]figure|celebrit|likeness"
    r"|photo-?realistic (?:person|people|human|face)|prominent (?:person|people|figure)"
    r"|(?:human|person'?s?|people'?s?|real) faces?\b|privacy information"
    r"|真人|真实人物|人脸|名人|公众人物|肖像",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(
    r"copyright|trademark|third[- ]party (?:content|work|material|ip|character|brand)"
    r"|similarity to (?:third|existing|known)|intellectual property"
    r"|版权|商标|第三方(?:内容|作品)|知识产权|侵权",
    re.IGNORECASE,
)
_POLICY = re.compile(
    r"moderat|content[- ]?polic|usage (?:polic|guideline)|(?:terms|policies) of use"
    r"|safety (?:system|check|filter|polic|setting|guideline|review)|content (?:filter|safety)"
    r"|sensitive (?:content|information|word|material|image|text)|guardrail|nsfw"
    r"|inappropriate (?:content|material|image|prompt)"
    r"|(?:violat|breach)\w* (?:our |the )?(?:\w+ )?(?:polic|guideline)"
    r"|违规|违反(?:\w{0,6})(?:政策|规定|规范|准则|协议)|违禁|审核|敏感|不合规|涉黄|涉政|色情"
    r"|内容安全|安全策略|安全检查",
    re.IGNORECASE,
)


def _squash(code: str) -> str:
    return re.sub(r"[^a-z0-9]", "", code.lower())


def classify(code: str | None, message: str | None) -> ModerationKind | None:
    """The kind of safety refusal `code` and `message` describe, or None if it is not one."""
    squashed = _squash(code or "")
    text = message or ""
    if any(part in squashed for part in _CODE_REAL_PERSON) or _REAL_PERSON.search(text):
        return "real_person"
    if any(part in squashed for part in _CODE_COPYRIGHT) or _COPYRIGHT.search(text):
        return "copyright"
    if any(part in squashed for part in _CODE_PARTS) or _POLICY.search(text):
        return "policy"
    return None


def error_key(kind: ModerationKind, *, character: bool = False) -> str:
    """The catalogue key the member reads: what to change in a storyboard, or, for a
    character (made from a video, not from text), one sentence for every kind."""
    return f"{KEY_PREFIX}character" if character else f"{KEY_PREFIX}{kind}"


def failure_key(code: str | None, message: str | None, *, character: bool = False) -> str | None:
    """`moderation.<kind>` for a safety refusal; None for any other failure."""
    kind = classify(code, message)
    return None if kind is None else error_key(kind, character=character)


def is_moderation(error_key: str | None) -> bool:
    """Whether a job's stored error is a safety refusal (`moderation.*`)."""
    return error_key is not None and error_key.startswith(KEY_PREFIX)
