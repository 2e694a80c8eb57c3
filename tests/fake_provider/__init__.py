"""A fake OpenAI-compatible video provider for async tests.

```python
async with FakeProvider(keys={"sk-guild-a"}, dialect="relay") as fp:
    fp.base_url              # http://127.0.0.1:PORT/v1
    fp.requests              # every RecordedRequest, in order
    fp.jobs                  # FakeJob by id
    fp.inject(Fault(route="retrieve", kind="status", status=429, retry_after=3))
    fp.advance(65)           # the fake clock; jobs move only on it
    fp.set_outcome(None, "fail", code="content_policy", message="Blocked")
```

Relay dialects and faults (see `FakeProvider` and `Fault`):

```python
FakeProvider(status_names={"completed": "succeeded"}, task_id_only=True,
             wrap_data=True, list_route=False, register_delay=30)
fp.inject(Fault(route="create", kind="accept_then_status", status=524,
                body=html_error_page(524, "A timeout occurred"), content_type="text/html"))
fp.inject(Fault(route="retrieve", status=429, retry_after=60, window=60))  # a storm
fp.inject(Fault(route="content", variant="thumbnail", status=500))  # the still only
fp.set_status(job_id, "succeeded"); fp.expire_content(job_id); fp.hide_new_jobs(30)
fp.serve_video(mp4_bytes)  # every job's video is this real MP4 (tests/video_samples.py)
```

Routes (both dialects): POST /v1/videos, GET /v1/videos, GET/DELETE
/v1/videos/{id}, GET /v1/videos/{id}/content?variant=, POST
/v1/videos/{id}/remix. `dialect="relay"` checks creates against
spec/relay-openapi.yaml with openapi-core; `dialect="openai"` against
OpenAI's official values.
"""

from tests.fake_provider.forms import (
    PROBLEM_JSON,
    FieldError,
    html_error_page,
    newapi_error_body,
    problem_body,
)
from tests.fake_provider.jobs import FakeJob, Outcome, VideoStatus
from tests.fake_provider.media import fake_mp4
from tests.fake_provider.records import Fault, RecordedFile, RecordedRequest
from tests.fake_provider.server import DEFAULT_KEY, FakeProvider

__all__ = [
    "DEFAULT_KEY",
    "PROBLEM_JSON",
    "FakeJob",
    "FakeProvider",
    "Fault",
    "FieldError",
    "Outcome",
    "RecordedFile",
    "RecordedRequest",
    "VideoStatus",
    "fake_mp4",
    "html_error_page",
    "newapi_error_body",
    "problem_body",
]
