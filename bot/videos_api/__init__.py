"""The provider's video API: typed client, models and errors."""

from bot.videos_api.client import RetryPolicy, VideoApi, VideoClient
from bot.videos_api.errors import (
    AuthFailed,
    ContentTooLarge,
    NotFound,
    NotSupported,
    ProviderDown,
    ProviderTimeout,
    RateLimited,
    Rejected,
    SubmissionUnknown,
    VideoApiError,
)
from bot.videos_api.models import CreateVideoRequest, ReferenceImage, VideoError, VideoJob

__all__ = [
    "AuthFailed",
    "ContentTooLarge",
    "CreateVideoRequest",
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
]
