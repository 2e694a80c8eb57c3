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

Routes (both dialects): POST /v1/videos, GET /v1/videos, GET/DELETE
/v1/videos/{id}, GET /v1/videos/{id}/content?variant=, POST
/v1/videos/{id}/remix. `dialect="relay"` checks creates against
spec/relay-openapi.yaml with openapi-core; `dialect="openai"` against
OpenAI's official values.
"""

from tests.fake_provider.forms import FieldError
from tests.fake_provider.jobs import FakeJob, Outcome, VideoStatus
from tests.fake_provider.media import fake_mp4
from tests.fake_provider.records import Fault, RecordedFile, RecordedRequest
from tests.fake_provider.server import DEFAULT_KEY, FakeProvider

__all__ = [
    "DEFAULT_KEY",
    "FakeJob",
    "FakeProvider",
    "Fault",
    "FieldError",
    "Outcome",
    "RecordedFile",
    "RecordedRequest",
    "VideoStatus",
    "fake_mp4",
]
