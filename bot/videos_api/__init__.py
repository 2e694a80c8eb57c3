"""The provider's video API: typed client, models and errors."""

from bot.videos_api.client import RetryPolicy, VideoApi, VideoClient
from bot.videos_api.errors import (
    AuthFailed,
    ContentTooLarge,
    KeyGone,
    NotFound,
    NotSupported,
    ProviderDown,
    ProviderTimeout,
    RateLimited,
    Rejected,
    SubmissionUnknown,
    VideoApiError,
)
from bot.videos_api.keys import key_fingerprint
from bot.videos_api.models import (
    TERMINAL_STATUSES,
    CreateVideoRequest,
    ReferenceImage,
    VideoError,
    VideoJob,
    normalize_status,
)

__all__ = [
    "TERMINAL_STATUSES",
    "AuthFailed",
    "ContentTooLarge",
    "CreateVideoRequest",
    "KeyGone",
    "NotFound",
    "NotSupported",
    "ProviderDown",
    "ProviderTimeout",
    "RateLimited",
    "ReferenceImage",
    "Rejected",
    "RetryPolicy",
    "SubmissionUnknown",
    "VideoApi",
    "VideoApiError",
    "VideoClient",
    "VideoError",
    "VideoJob",
    "key_fingerprint",
    "normalize_status",
]
