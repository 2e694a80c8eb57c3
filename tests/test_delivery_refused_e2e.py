"""A finished job Discord won't let the bot post: the member still hears, and the admin view
shows what no channel would take (issue 15)."""

from __future__ import annotations

from tests.fake_discord.models import Overwrite, Perm, Role
from tests.harness import SEND, World, replies_to

ADMIN_ROLE_IN_SECOND = 1_300_000_000_000_000_299


def bot_role_id(world: World) -> int:
    return next(r.id for r in world.std.guild.roles if r.bot_id == world.fd.app_id)


def deny_bot(world: World, perms: int) -> None:
    """A channel overwrite on the job's channel (its threads take it too)."""
    world.std.text.overwrites.append(Overwrite(bot_role_id(world), deny=perms))


def progress_of(world: World, card_id: int | None) -> str:
    """The Progress line of the card as the channel shows it now."""
    assert card_id is not None
    embed = world.fd.world.messages[card_id]["embeds"][0]
    return next((f["value"] for f in embed["fields"] if f["name"] == "Progress"), "")


def expect_refusals(world: World) -> None:
    for call in world.fd.calls_to(SEND):
        if call.status == 403:
            world.fd.expect_problem(call)


async def delivered(world: World, job_id: int) -> bool:
    return (await world.job(job_id)).delivered_at is not None


async def admin_fields(world: World, guild: object, channel: object, user: object) -> dict:
    ix = await world.fd.run_slash_command(
        guild=guild, channel=channel, user=user, name="storyboard-admin show"
    )
    await world.wait_reply(ix)
    return {f["name"]: f["value"] for f in replies_to(ix)[0]["embeds"][0]["fields"]}


async def test_a_video_the_bot_may_not_attach_still_reaches_the_member_as_a_notice(
    world: World,
) -> None:
    job = await world.submitted_job("A video for a channel without Attach Files.")
    deny_bot(world, Perm.ATTACH_FILES)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    expect_refusals(world)
    posted = [m for m in world.fd.messages_in(job.thread_id or 0) if m["attachments"] == []]
    notice = posted[-1]
    assert notice["content"] == (
        f"<@{world.std.alice.id}> your video #{job.id} is ready, but I'm not allowed to attach"
        " files here, so I can't post it. Ask a server admin to give my role Attach Files."
    )
    assert job.delivery_message_id == int(notice["id"])
    assert job.delivery_error == "posted without the file: no Attach Files"
    fields = await admin_fields(world, world.std.guild, world.std.text, world.std.admin)
    assert not any(name.startswith("Not posted") for name in fields)
    assert "Attach Files" in fields["My permissions in this channel"]


async def test_a_job_no_channel_will_take_is_listed_for_the_servers_admins_only(
    world: World,
) -> None:
    job = await world.submitted_job("A video for a channel closed to the bot.")
    deny_bot(world, Perm.SEND_MESSAGES | Perm.SEND_MESSAGES_IN_THREADS)
    world.provider.advance(3600)
    await world.wait_until(lambda: delivered(world, job.id))
    job = await world.job(job.id)
    expect_refusals(world)
    assert job.delivery_error == "not posted: missing_permissions"
    # The member reads why on the card, the one message of theirs the bot can still edit.
    await world.wait_until(lambda: "couldn't post" in progress_of(world, job.card_message_id))
    assert progress_of(world, job.card_message_id).endswith(
        " · I couldn't post the video: I may not post there (Missing Permissions). Ask a server"
        " admin to fix my permissions."
    )
    fields = await admin_fields(world, world.std.guild, world.std.text, world.std.admin)
    assert fields["Not posted (last 7 days): fix my permissions there"] == (
        f"Video #{job.id} · Completed · <@{world.std.alice.id}> · task ID `{job.task_id}`"
        f" · <#{job.thread_id}> · I may not post there (Missing Permissions)"
    )
    world.std.admin.locale = "zh-CN"
    fields = await admin_fields(world, world.std.guild, world.std.text, world.std.admin)
    assert fields["未能发布（最近 7 天）：请修复我在那里的权限"].endswith(
        "· 我无权在那里发消息（缺少权限）"
    )
    # Another server's admin view shows none of it.
    world.second.roles.append(Role(ADMIN_ROLE_IN_SECOND, "Admins", Perm.MANAGE_GUILD, position=1))
    world.carol.roles.append(ADMIN_ROLE_IN_SECOND)
    other = await admin_fields(world, world.second, world.second_channel, world.carol)
    assert not any(name.startswith("Not posted") for name in other)
    assert str(job.task_id) not in str(other)
