"""Who reads which language (issue 14): replies only a member sees are in that member's
language; what everyone reads (card, thread, delivery, draft panel) in the server's.

The card, the thread and the delivery are walked in tests/test_commands_tree.py
(`test_the_card_is_in_the_servers_language...`, `test_the_servers_locale_setting_wins...`);
here: the draft panel, and a rule on the code that keeps later public texts right.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.harness import World, followup_text
from tests.test_drafts_e2e import add_shot, panel_of, press

COGS = Path(__file__).resolve().parents[1] / "cogs"


def test_no_public_text_is_written_in_the_requesters_language() -> None:
    """`job.locale` is the requester's: a card, thread message or delivery written in it
    would be in the wrong language for everyone else. Public texts use
    `job.public_locale`; replies use the interaction's locale."""
    found = [
        f"{path.relative_to(COGS.parent)}:{n}: {line.strip()}"
        for path in sorted(COGS.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"\bjob\.locale\b", line)
    ]
    assert found == []


async def test_a_draft_panel_is_in_the_servers_language_its_replies_in_the_members(
    world: World,
) -> None:
    bob = world.std.bob  # reads Chinese; the server is English
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=bob,
        name="draft new",
        options={"title": "雨夜"},
    )
    await world.wait_reply(ix)
    assert followup_text(ix).startswith("草稿已在 <#")
    draft = await world.bot.store.drafts.get(1)
    assert draft.locale == "en-US"
    added = await add_shot(world, draft, bob, "雨水打在窗户上。", duration="4")
    assert added.callback is not None
    assert added.callback["data"]["content"] == "已添加镜头 1。"

    def panel() -> dict[str, str]:
        embed: dict[str, str] = panel_of(world, draft)["embeds"][0]
        return embed

    await world.wait_until(lambda: panel()["description"].startswith("**1.**"))
    assert panel()["title"] == "Draft: 雨夜"
    assert panel()["description"] == f"**1.** 4 s: 雨水打在窗户上。 (by <@{bob.id}>)"
    # A server that reads Traditional Chinese: a new draft's panel is in it.
    world.std.guild.preferred_locale = "zh-TW"
    ix = await world.fd.run_slash_command(
        guild=world.std.guild,
        channel=world.std.text,
        user=world.std.alice,
        name="draft new",
        options={"title": "Rain"},
    )
    await world.wait_reply(ix)
    assert followup_text(ix).startswith("Your draft is ready in <#")
    second = await world.bot.store.drafts.get(2)
    panel = panel_of(world, second)["embeds"][0]
    assert panel["title"] == "草稿：Rain"
    labels = [
        c["label"] for row in panel_of(world, second)["components"] for c in row["components"]
    ]
    assert "放棄草稿" in labels and "新增鏡頭" in labels
    preview = await press(world, second, "preview", world.std.alice)
    assert preview.callback is not None
