"""The custom ids of a job's buttons: `sb:<action>:<job_id>`, built and read back.

Only ids live here: the views (`cogs.job_views`) draw buttons with them, and the
DynamicItems (`cogs.job_buttons`) match presses on them, after a restart too.
"""

from __future__ import annotations

import re


class JobButtonId:
    """Builds `sb:<action>:<job_id>` and the template that reads it back."""

    def __init__(self, action: str) -> None:
        self.prefix = f"sb:{action}:"
        self.template = re.escape(self.prefix) + r"(?P<job_id>[0-9]{1,20})"

    def build(self, job_id: int) -> str:
        return f"{self.prefix}{job_id}"


RETRY = JobButtonId("retry")
REMIX = JobButtonId("remix")
DETAILS = JobButtonId("details")
CHARACTER = JobButtonId("character")
CANCEL = JobButtonId("cancel")
RESUBMIT = JobButtonId("resubmit")
# The second step of a resubmit: the member read the risk of paying twice and confirms.
CONFIRM = JobButtonId("confirm")
