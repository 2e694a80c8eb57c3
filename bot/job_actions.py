"""Which actions a job offers in each state: the card's buttons, and what a press may do.

One rule for both, so a button from an old card that no longer fits the job's state
is refused by the same table that stopped drawing it. Paid actions (retry, resubmit,
remix, character) appear only where paying again makes sense:

- queued or running: cancel (where the provider can) and details;
- completed: remix, details and (videos, where the provider can) create character;
- failed, not submitted or cancelled: retry, remix, details; refused by the provider's
  safety check (`moderation.*`): remix and details only, since the same text is refused
  again (a character: details only, it needs another video);
- uncertain (the provider may have the job) and expired (it may still finish): details,
  and once the bot has stopped looking, `resubmit`, which asks the member to confirm
  the risk of paying twice first;
- a character job: details, and retry re-makes the character (never a video);
- a sandbox job (a free preview) in a server that has since moved to a paid provider:
  no retry, resubmit or character. One click on a card that says "nothing paid" must
  not pay, and no provider has a sandbox task to make a character from. Edit & redo
  stays: the member submits its form knowingly, as they would /storyboard.
"""

from __future__ import annotations

from typing import Literal

from bot.moderation import is_moderation
from bot.profiles import ProviderProfile
from bot.store import Job
from bot.videos_api.sandbox import made_in_sandbox

Action = Literal["details", "cancel", "retry", "resubmit", "remix", "character"]


def actions_for(job: Job, profile: ProviderProfile) -> tuple[Action, ...]:
    """The actions `job` offers now, in the order its buttons are drawn."""
    actions = _by_state(job, profile)
    if made_in_sandbox(job.task_id, job.key_fingerprint) and profile.name != "sandbox":
        return tuple(a for a in actions if a not in ("retry", "resubmit", "character"))
    return actions


def _by_state(job: Job, profile: ProviderProfile) -> tuple[Action, ...]:
    video = job.kind == "video"
    state = job.state
    if state == "active":
        return ("cancel", "details") if profile.delete_path is not None else ("details",)
    if state == "completed":
        if not video:
            return ("details",)
        if profile.allows("character_from_task"):
            return ("remix", "details", "character")
        return ("remix", "details")
    if state in ("failed", "submit_failed") and is_moderation(job.error_key):
        return ("remix", "details") if video else ("details",)
    if state in ("failed", "submit_failed", "cancelled"):
        return ("retry", "remix", "details") if video else ("retry", "details")
    if state in ("uncertain", "expired"):
        if job.resolution is None and state == "uncertain":
            return ("details",)  # still looking: the answer may come any minute
        return ("resubmit", "details")
    return ("details",)  # pending: the create is on its way


def request_key_for(action: Action, job: Job) -> str:
    """The one request key a paid action on `job` makes: a second press (a double click,
    a second process, a press after a restart) finds the first job instead of paying."""
    return f"{action}:{job.id}"
