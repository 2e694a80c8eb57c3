"""What each provider dialect accepts: lengths, sizes, form fields and routes.

`relay` follows `spec/relay-openapi.yaml` (the live path); `openai` follows
OpenAI's official Videos API for providers that copy it. Routes live here, not
in the client, so a relay with other status or content paths is a profile
change rather than a code change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Orientation = Literal["landscape", "portrait"]
ProfileName = Literal["relay", "openai", "sandbox"]

RELAY_ONLY_FIELDS = frozenset(
    {
        "watermark",
        "private",
        "character_url",
        "character_timestamps",
        "metadata",
        "character_from_task",
        "character_create",
    }
)
COMMON_FIELDS = frozenset({"model", "prompt", "seconds", "size", "input_reference"})
# What a provider can do beyond its form fields. `thumbnail`: a still of the finished video
# at `content_path?variant=thumbnail` (OpenAI's Videos API; relays don't document it).
Capability = Literal["thumbnail"]


class ProviderProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: ProfileName
    allowed_seconds: tuple[int, ...]
    # Lengths only models whose name contains "pro" may use.
    pro_only_seconds: frozenset[int] = frozenset()
    # The `size` sent for each orientation. The relay reads only W>H or W<H.
    sizes: dict[Orientation, str]
    form_fields: frozenset[str]
    capabilities: frozenset[Capability] = frozenset()
    create_path: str = "videos"
    retrieve_path: str = "videos/{id}"
    content_path: str = "videos/{id}/content"
    list_path: str | None = "videos"
    delete_path: str | None = "videos/{id}"
    remix_path: str | None = None
    # The relay's example gives `created_at` in milliseconds, OpenAI in seconds.
    created_at_in_ms: bool = False
    # OpenAI refuses a reference image whose size is not the video's ("Inpaint image
    # must match the requested width and height"): such a profile gets it fitted.
    # Config can say so for a relay that forwards to it (`image_exact_size`).
    image_exact_size: bool = False

    def allows(self, field: str) -> bool:
        """Whether the provider takes this form field or has this capability."""
        return field in self.form_fields or field in self.capabilities

    def size_for(self, orientation: Orientation) -> str:
        return self.sizes[orientation]

    @staticmethod
    def is_pro_model(model: str) -> bool:
        return "pro" in model.lower()


RELAY = ProviderProfile(
    name="relay",
    allowed_seconds=(10, 15, 25),
    pro_only_seconds=frozenset({25}),
    sizes={"landscape": "1280x720", "portrait": "720x1280"},
    form_fields=COMMON_FIELDS | RELAY_ONLY_FIELDS,
    created_at_in_ms=True,
)

OPENAI = ProviderProfile(
    name="openai",
    allowed_seconds=(4, 8, 12),
    sizes={"landscape": "1280x720", "portrait": "720x1280"},
    form_fields=COMMON_FIELDS,
    capabilities=frozenset({"thumbnail"}),
    remix_path="videos/{id}/remix",
    image_exact_size=True,
)

# No provider at all: jobs are made in-process (`bot.videos_api.sandbox`) and the video is
# the storyboard's animatic, so an admin can try the whole bot before buying a key. It
# validates as the relay does (same lengths, sizes, models), without the character
# fields (there is no one to make a character) and without list or remix routes.
SANDBOX = ProviderProfile(
    name="sandbox",
    allowed_seconds=RELAY.allowed_seconds,
    pro_only_seconds=RELAY.pro_only_seconds,
    sizes=RELAY.sizes,
    form_fields=COMMON_FIELDS | {"watermark", "private", "metadata"},
    list_path=None,
)

PROFILES: dict[ProfileName, ProviderProfile] = {
    "relay": RELAY,
    "openai": OPENAI,
    "sandbox": SANDBOX,
}


def get_profile(name: ProfileName) -> ProviderProfile:
    return PROFILES[name]
