"""The draft panel: one message, edited in place, with buttons that outlive restarts."""

from __future__ import annotations

import discord
from discord import ui

from bot.drafts import Draft
from bot.i18n import t
from bot.storyboard import ValidStoryboard
from cogs.job_card import escape, size_text

SCENE_PREVIEW = 300

# Every panel action is `sbd:<action>:<draft_id>`; the shot pickers add `:pick`.
PANEL_ACTIONS = (
    "add",
    "edit",
    "remove",
    "up",
    "down",
    "settings",
    "image",
    "preview",
    "submit",
    "discard",
    "animatic",
    "duplicate",
)
ROW_OF = {
    "add": 0,
    "edit": 0,
    "remove": 0,
    "up": 0,
    "down": 0,
    "settings": 1,
    "image": 1,
    "preview": 1,
    "submit": 1,
    "discard": 1,
    # Both rows above hold five, Discord's most.
    "animatic": 2,
    "duplicate": 0,
}
STYLE_OF = {
    "add": discord.ButtonStyle.primary,
    "submit": discord.ButtonStyle.success,
    "discard": discord.ButtonStyle.danger,
    "duplicate": discord.ButtonStyle.primary,
}


class PanelId:
    """Builds `sbd:<action>:<draft_id>` and the template that reads it back."""

    prefix = "sbd:"
    template = r"sbd:(?P<action>[a-z]+):(?P<draft_id>[0-9]{1,20})"

    @staticmethod
    def build(action: str, draft_id: int) -> str:
        return f"sbd:{action}:{draft_id}"


class PickId:
    """`sbdp:<action>:<draft_id>`: the select that picks which shot an action is for."""

    template = r"sbdp:(?P<action>edit|remove|up|down):(?P<draft_id>[0-9]{1,20})"

    @staticmethod
    def build(action: str, draft_id: int) -> str:
        return f"sbdp:{action}:{draft_id}"


def panel_button(action: str, draft_id: int, *, label: str = "") -> ui.Button[ui.View]:
    """A panel button; its press reaches `cogs.draft.buttons.PanelButton` by its id."""
    return ui.Button(
        label=label or action,
        style=STYLE_OF.get(action, discord.ButtonStyle.secondary),
        custom_id=PanelId.build(action, draft_id),
        row=ROW_OF.get(action, 1),
    )


def shot_picker(
    action: str, draft_id: int, options: list[discord.SelectOption]
) -> ui.Select[ui.View]:
    """A shot picker; options are `<shot id>:<version seen>`, so a stale pick is caught."""
    return ui.Select(custom_id=PickId.build(action, draft_id), options=options)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_panel(draft: Draft, locale: str | None = None) -> discord.Embed:
    """The panel, in the language it was opened in: the server's (`Draft.locale`)."""
    loc = locale or draft.locale
    s = draft.settings
    planned = draft.planned_durations()
    lines = []
    for number, (shot, seconds) in enumerate(zip(draft.shots, planned, strict=True), start=1):
        length = (
            t("draft.shot_seconds", loc, seconds=shot.duration)
            if shot.duration is not None
            else t("draft.auto_seconds", loc, seconds=seconds or "?")
        )
        lines.append(
            t(
                "draft.shot_line",
                loc,
                number=number,
                length=length,
                scene=escape(_clip(shot.scene, SCENE_PREVIEW)),
                author=f"<@{shot.author_id}>",
            )
        )
    description = "\n".join(lines) or t("draft.no_shots_yet", loc)
    colour = discord.Colour.blurple() if draft.is_open else discord.Colour.dark_grey()
    embed = discord.Embed(
        title=_clip(t("draft.panel_title", loc, title=escape(draft.title)), 256),
        description=_clip(description, 4000),
        colour=colour,
    )
    embed.add_field(
        name=t("draft.settings", loc),
        value=t(
            "draft.settings_value",
            loc,
            model=escape(s.model),
            seconds=s.seconds,
            orientation=t(f"card.{s.orientation}", loc),
            watermark=t("draft.yes" if s.watermark else "draft.no", loc),
            private=t("draft.yes" if s.private else "draft.no", loc),
        ),
        inline=False,
    )
    given = sum(d for d in (sh.duration for sh in draft.shots) if d is not None)
    problem = draft.timing_problem()
    total = t("draft.total", loc, given=given, seconds=s.seconds)
    if problem is not None:
        total += "\n" + t("draft.total_problem", loc, reason=t(problem.key, loc, **problem.fields))
    embed.add_field(name=t("draft.total_label", loc), value=_clip(total, 1024), inline=False)
    embed.add_field(
        name=t("card.image", loc),
        value=escape(draft.image_filename) if draft.image_filename else t("card.none", loc),
    )
    embed.add_field(name=t("draft.owner", loc), value=f"<@{draft.owner_id}>")
    embed.add_field(name=t("draft.state_label", loc), value=t(f"draft.state_{draft.state}", loc))
    embed.set_footer(text=t("draft.footer", loc, draft=draft.id, version=draft.version))
    return embed


def panel_view(draft: Draft, locale: str | None = None) -> ui.View:
    loc = locale or draft.locale
    view = ui.View(timeout=None)
    actions = PANEL_ACTIONS[:-1] if draft.is_open else ("duplicate",)
    for action in actions:
        view.add_item(panel_button(action, draft.id, label=t(f"draft.button_{action}", loc)))
    return view


# A reply holds 2,000 characters: the summary first, the raw prompt in what is left.
PREVIEW_LIMIT = 1900
PREVIEW_SCENE = 200


def preview_text(valid: ValidStoryboard, image: str | None, locale: str) -> str:
    """What Submit would make, as a member reads it (shots with their lengths, the
    settings), then the exact text the video service gets, for those who want it."""
    s = valid.settings

    def yes_no(value: bool) -> str:
        return t("draft.yes" if value else "draft.no", locale)

    lines = [t("draft.preview", locale)]
    lines += [
        t(
            "draft.preview_shot",
            locale,
            number=n,
            seconds=shot.duration,
            scene=escape(_clip(shot.scene, PREVIEW_SCENE)),
        )
        for n, shot in enumerate(valid.shots, start=1)
    ]
    lines.append(
        t(
            "draft.preview_settings",
            locale,
            model=escape(s.model),
            seconds=s.seconds,
            size=size_text(valid.size, s.orientation, locale),
            watermark=yes_no(s.watermark),
            private=yes_no(s.private),
            image=escape(image) if image else t("card.none", locale),
        )
    )
    summary = "\n".join(lines)
    room = PREVIEW_LIMIT - len(summary) - 60
    raw = valid.prompt.replace("```", "`\u200b``")
    if room < 100:
        return _clip(summary, PREVIEW_LIMIT)
    return f"{summary}\n-# {t('draft.preview_raw', locale)}\n```\n{_clip(raw, room)}\n```"


def shot_options(draft: Draft, locale: str) -> list[discord.SelectOption]:
    return [
        discord.SelectOption(
            label=_clip(t("draft.pick_label", locale, number=n), 100),
            description=_clip(shot.scene, 100),
            value=f"{shot.id}:{shot.version}",
        )
        for n, shot in enumerate(draft.shots, start=1)
    ]
