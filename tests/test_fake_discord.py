"""The fake Discord against the real discord.py client, with a tiny bot defined here."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands, ui
from discord.ext import commands

from tests.fake_discord import CDN_UPLOAD, FakeDiscord, InteractionHandle, RecordedCall
from tests.fake_discord.standard import GUILD_ID, StandardGuild
from tests.processes import eventually

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101006fd3a7c4"
    "0000000049454e44ae426082"
)
CALLBACK = "POST /interactions/{interaction_id}/{interaction_token}/callback"
FOLLOWUP = "POST /webhooks/{webhook_id}/{webhook_token}"
SEND = "POST /channels/{channel_id}/messages"
THREAD_FROM_MESSAGE = "POST /channels/{channel_id}/messages/{message_id}/threads"


class HelloModal(ui.Modal):
    """A Label-wrapped text input and file upload, as /storyboard will have."""

    def __init__(self, bot: HelloBot) -> None:
        super().__init__(title="Hello", custom_id="hello:modal")
        self.bot = bot
        self.scene: ui.TextInput[HelloModal] = ui.TextInput(
            custom_id="shot_1", style=discord.TextStyle.paragraph, max_length=500
        )
        self.image: ui.FileUpload[HelloModal] = ui.FileUpload(
            custom_id="image", required=False, max_values=1
        )
        self.add_item(ui.Label(text="Shot 1", component=self.scene))
        self.add_item(ui.Label(text="Reference image", component=self.image))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        try:
            await self.bot.on_modal(interaction, self)
        except Exception as exc:  # handed to the test, which asserts on it
            self.bot.outcome.set_exception(exc)
        else:
            self.bot.outcome.set_result("done")


class HelloBot(commands.Bot):
    """Answers /hello with a modal; on submit: defer, download, card, thread, followup."""

    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), help_command=None)
        self.outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.embed_title = "Job"
        self.gate: asyncio.Event | None = None
        self.downloaded = b""

    async def setup_hook(self) -> None:
        @app_commands.command(name="hello", description="Say hello with a picture")
        @app_commands.describe(image="A picture")
        async def hello(
            interaction: discord.Interaction, image: discord.Attachment | None = None
        ) -> None:
            if self.gate is not None:
                await self.gate.wait()
            try:
                await interaction.response.send_modal(HelloModal(self))
            except Exception as exc:
                self.outcome.set_exception(exc)

        self.tree.add_command(hello)
        await self.tree.sync()

    async def on_modal(self, interaction: discord.Interaction, modal: HelloModal) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        self.downloaded = await modal.image.values[0].read()
        channel = interaction.channel
        assert isinstance(channel, discord.TextChannel)
        embed = discord.Embed(title=self.embed_title, description=modal.scene.value)
        card = await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        thread = await card.create_thread(name="Job thread", auto_archive_duration=1440)
        await thread.send("reference", file=discord.File(io.BytesIO(self.downloaded), "ref.png"))
        await interaction.followup.send(f"Started in {thread.mention}", ephemeral=True)


@pytest.fixture
async def bot(fake_discord: FakeDiscord, standard_guild: StandardGuild) -> AsyncIterator[HelloBot]:
    async with fake_discord.run_client(HelloBot(), skip_reidentify_delay=True) as client:
        yield client


async def open_and_submit(
    fd: FakeDiscord, sg: StandardGuild, *, text: str = "A door opens"
) -> tuple[InteractionHandle, InteractionHandle]:
    option = fd.attachment("option.png", PNG, "image/png")
    ix = await fd.run_slash_command(
        guild=sg.guild, channel=sg.text, user=sg.alice, name="hello", options={"image": option}
    )
    await ix.wait_callback()
    upload = fd.attachment("cat.png", PNG, "image/png")
    sub = await fd.submit_modal(ix, values={"shot_1": text}, files={"image": [upload]})
    return ix, sub


def routes(calls: list[RecordedCall]) -> list[str]:
    return [c.name for c in calls]


async def test_slash_command_modal_thread_flow(
    fake_discord: FakeDiscord, standard_guild: StandardGuild, bot: HelloBot
) -> None:
    fd, sg = fake_discord, standard_guild
    synced = fd.calls_to("PUT /applications/{application_id}/commands")
    assert len(synced) == 1
    assert synced[0].json[0]["options"][0] == {
        "type": 11,
        "name": "image",
        "description": "A picture",
        "required": False,
    }

    mark = len(fd.calls)
    ix, sub = await open_and_submit(fd, sg)
    assert await asyncio.wait_for(bot.outcome, 5) == "done"

    assert ix.callback_type == 9
    assert ix.modal is not None
    assert [c["type"] for c in ix.modal["components"]] == [18, 18]
    assert [c["component"]["type"] for c in ix.modal["components"]] == [4, 19]
    assert sub.callback == {"type": 5, "data": {"flags": 64}}
    assert bot.downloaded == PNG

    assert routes(fd.calls[mark:]) == [
        CALLBACK,
        CALLBACK,
        CDN_UPLOAD,
        SEND,
        THREAD_FROM_MESSAGE,
        SEND,
        FOLLOWUP,
    ]
    card_call, thread_call, post_call = (
        fd.calls_to(SEND)[0],
        *fd.calls_to(THREAD_FROM_MESSAGE),
        fd.calls_to(SEND)[1],
    )
    assert card_call.json["embeds"][0]["description"] == "A door opens"
    assert card_call.json["allowed_mentions"]["parse"] == []
    card_id = int(card_call.response["id"])
    assert thread_call.params == {"channel_id": str(sg.text.id), "message_id": str(card_id)}
    thread = fd.channels[card_id]
    assert (thread.type, thread.parent_id, thread.name) == (11, sg.text.id, "Job thread")
    assert post_call.params["channel_id"] == str(thread.id)
    assert post_call.files == [("ref.png", PNG)]
    posted = fd.messages_in(thread)[0]
    assert fd.cdn_file(posted["attachments"][0]["url"]) == PNG

    # The followup resolved the deferred "thinking" message: same id, still ephemeral.
    followup = fd.calls_to(FOLLOWUP)[0]
    assert sub.original_message is not None
    assert followup.response["id"] == sub.original_message["id"]
    assert followup.response["flags"] == 64
    assert followup.response["content"] == f"Started in <#{thread.id}>"
    assert all(c.validated and c.valid for c in fd.calls_to(SEND) + fd.calls_to(CALLBACK))
    fd.assert_all_valid()


async def test_invalid_body_is_refused_with_400(
    fake_discord: FakeDiscord, standard_guild: StandardGuild, bot: HelloBot
) -> None:
    fd = fake_discord
    bot.embed_title = "x" * 300
    await open_and_submit(fd, standard_guild)
    with pytest.raises(discord.HTTPException) as caught:
        await asyncio.wait_for(bot.outcome, 5)
    assert caught.value.status == 400
    assert caught.value.code == 50035
    assert "embeds.0.title" in caught.value.text

    (call,) = fd.calls_to(SEND)
    assert not call.valid
    assert any(e.startswith("embeds.0.title: Must be 256 or fewer") for e in call.errors)
    assert fd.problems() == [call]
    fd.expect_problem(call)
    fd.assert_all_valid()


async def test_forbidden_thread_creation_raises_forbidden(
    fake_discord: FakeDiscord, standard_guild: StandardGuild, bot: HelloBot
) -> None:
    fake_discord.fail_next(THREAD_FROM_MESSAGE, status=403, code=50013)
    await open_and_submit(fake_discord, standard_guild)
    with pytest.raises(discord.Forbidden) as caught:
        await asyncio.wait_for(bot.outcome, 5)
    assert caught.value.code == 50013
    (call,) = fake_discord.calls_to(THREAD_FROM_MESSAGE)
    assert call.injected and call.status == 403
    assert fake_discord.messages_in(standard_guild.text)  # the card itself was posted


async def test_rate_limited_followup_is_retried(
    fake_discord: FakeDiscord, standard_guild: StandardGuild, bot: HelloBot
) -> None:
    fake_discord.fail_next(FOLLOWUP, status=429, retry_after=0.05)
    await open_and_submit(fake_discord, standard_guild)
    assert await asyncio.wait_for(bot.outcome, 5) == "done"
    first, second = fake_discord.calls_to(FOLLOWUP)
    assert (first.status, first.injected, first.response["retry_after"]) == (429, True, 0.05)
    assert second.status == 200
    assert first.json == second.json


@pytest.mark.parametrize(("resumable", "how"), [(True, "resumed"), (False, "identified")])
async def test_gateway_reconnect_then_command_arrives(
    fake_discord: FakeDiscord,
    standard_guild: StandardGuild,
    bot: HelloBot,
    resumable: bool,
    how: str,
) -> None:
    fd = fake_discord
    assert await fd.disconnect_gateway(4000, resumable=resumable) == how
    assert len(fd.gateway.log.resumes) == 1
    assert len(fd.gateway.log.identifies) == (1 if resumable else 2)
    assert fd.gateway.log.connections[-1].startswith("/resume-gateway" if resumable else "/")
    ix = await fd.run_slash_command(
        guild=standard_guild.guild,
        channel=standard_guild.text,
        user=standard_guild.bob,
        name="hello",
    )
    assert (await ix.wait_callback())["type"] == 9


async def test_events_sent_while_disconnected_are_replayed_on_resume(
    fake_discord: FakeDiscord, standard_guild: StandardGuild, bot: HelloBot
) -> None:
    fd = fake_discord
    await fd.disconnect_gateway(None, wait=False)
    sg = standard_guild
    ix = await fd.run_slash_command(guild=sg.guild, channel=sg.text, user=sg.alice, name="hello")
    assert (await ix.wait_callback())["type"] == 9
    assert fd.gateway.log.sessions == ["identified", "resumed"]


async def test_second_ack_gets_40060(
    fake_discord: FakeDiscord, standard_guild: StandardGuild, bot: HelloBot
) -> None:
    sg = standard_guild
    ix = await fake_discord.run_slash_command(
        guild=sg.guild, channel=sg.text, user=sg.alice, name="hello"
    )
    await ix.wait_callback()
    # discord.py refuses a second response on the same object; a second object for the
    # same interaction reaches the fake, as a second process or a double delivery would.
    twin: discord.Interaction[Any] = discord.Interaction(data=ix.payload, state=bot._connection)  # type: ignore[arg-type]
    with pytest.raises(discord.HTTPException) as caught:
        await twin.response.send_message("again")
    assert (caught.value.status, caught.value.code) == (400, 40060)
    assert [c.status for c in ix.callback_calls] == [200, 400]


async def test_late_ack_gets_10062(
    fake_discord: FakeDiscord, standard_guild: StandardGuild, bot: HelloBot
) -> None:
    sg = standard_guild
    bot.gate = asyncio.Event()
    await fake_discord.run_slash_command(
        guild=sg.guild, channel=sg.text, user=sg.alice, name="hello"
    )
    fake_discord.advance_clock(3.5)
    bot.gate.set()
    with pytest.raises(discord.NotFound) as caught:
        await asyncio.wait_for(bot.outcome, 5)
    assert caught.value.code == 10062


async def test_modal_refuses_what_the_client_would(
    fake_discord: FakeDiscord, standard_guild: StandardGuild, bot: HelloBot
) -> None:
    sg = standard_guild
    ix = await fake_discord.run_slash_command(
        guild=sg.guild, channel=sg.text, user=sg.alice, name="hello"
    )
    await ix.wait_callback()
    with pytest.raises(ValueError, match="required"):
        await fake_discord.submit_modal(ix, values={})
    big = fake_discord.attachment("big.png", b"x" * 11, "image/png")
    with pytest.raises(ValueError, match="upload limit"):
        await fake_discord.submit_modal(
            ix, values={"Shot 1": "ok"}, files={"image": [big]}, attachment_size_limit=10
        )
    with pytest.raises(ValueError, match="no fields"):
        await fake_discord.submit_modal(ix, values={"shot_1": "ok", "shot_9": "?"})
    with pytest.raises(ValueError, match="not registered"):
        await fake_discord.run_slash_command(
            guild=sg.guild, channel=sg.text, user=sg.alice, name="nope"
        )


async def test_button_select_and_message_command(
    fake_discord: FakeDiscord, standard_guild: StandardGuild
) -> None:
    fd, sg = fake_discord, standard_guild
    seen: list[str] = []

    class Panel(ui.View):
        @ui.button(label="Go", custom_id="panel:go")
        async def go(self, interaction: discord.Interaction, button: ui.Button[Panel]) -> None:
            await interaction.response.edit_message(content="pressed", view=None)

        @ui.select(custom_id="panel:pick", options=[discord.SelectOption(label="A", value="a")])
        async def pick(self, interaction: discord.Interaction, select: ui.Select[Panel]) -> None:
            seen.append(select.values[0])
            await interaction.response.defer()

    class PanelBot(commands.Bot):
        async def setup_hook(self) -> None:
            @app_commands.context_menu(name="Use as reference")
            async def use(interaction: discord.Interaction, message: discord.Message) -> None:
                seen.append(message.content)
                await interaction.response.send_message("noted", ephemeral=True)
                await interaction.edit_original_response(content="noted!")

            guild = discord.Object(GUILD_ID)
            self.tree.add_command(use, guild=guild)
            await self.tree.sync(guild=guild)

    async with fd.run_client(
        PanelBot(command_prefix="!", intents=discord.Intents.default())
    ) as panel_bot:
        channel = panel_bot.get_channel(sg.text.id)
        assert isinstance(channel, discord.TextChannel)
        msg = await channel.send("panel", view=Panel())

        pick = await fd.select(msg.id, "panel:pick", ["a"], user=sg.alice)
        assert (await pick.wait_callback())["type"] == 6
        press = await fd.press_button(msg.id, "panel:go", user=sg.alice)
        assert (await press.wait_callback())["type"] == 7
        assert fd.messages[msg.id]["content"] == "pressed"
        assert fd.messages[msg.id]["components"] == []

        menu = await fd.run_message_context_menu("Use as reference", msg.id, user=sg.bob)
        assert (await menu.wait_callback())["data"]["flags"] == 64
        await fd.wait_for_call("PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original")
        assert menu.original_message is not None
        assert (menu.original_message["content"], menu.original_message["flags"]) == ("noted!", 64)
    assert seen == ["a", "pressed"]


async def test_forum_post_edit_fetch_and_thread_member(
    fake_discord: FakeDiscord, standard_guild: StandardGuild
) -> None:
    fd, sg = fake_discord, standard_guild
    client = discord.Client(intents=discord.Intents.default())
    async with fd.run_client(client):
        forum = client.get_channel(sg.forum.id)
        assert isinstance(forum, discord.ForumChannel)
        post = await forum.create_thread(
            name="Job 1", content="card", file=discord.File(io.BytesIO(PNG), "still.png")
        )
        assert post.thread.id == post.message.id
        assert fd.channels[post.thread.id].parent_id == sg.forum.id
        assert post.message.attachments[0].filename == "still.png"
        assert await post.message.attachments[0].read() == PNG

        fd.fail_next(
            "PATCH /channels/{channel_id}/messages/{message_id}", status=429, retry_after=0.01
        )
        edited = await post.message.edit(content="card v2", embed=discord.Embed(title="Done"))
        assert edited.content == "card v2"
        fetched = await post.thread.fetch_message(post.message.id)
        assert (fetched.content, fetched.embeds[0].title) == ("card v2", "Done")
        await post.thread.add_user(discord.Object(sg.alice.id))
        assert sg.alice.id in fd.channels[post.thread.id].member_ids

    statuses = [c.status for c in fd.calls_to("PATCH /channels/{channel_id}/messages/{message_id}")]
    assert statuses == [429, 200]
    (create,) = fd.calls_to("POST /channels/{channel_id}/threads")
    assert create.validated and create.json["message"]["content"] == "card"
    assert create.files == [("still.png", PNG)]


async def identify(
    session: aiohttp.ClientSession, fd: FakeDiscord, shard: tuple[int, int]
) -> aiohttp.ClientWebSocketResponse:
    """A bare gateway client: HELLO, then IDENTIFY for `shard`."""
    ws = await session.ws_connect(fd.gateway_url)
    assert (await ws.receive_json())["op"] == 10
    data = {"token": fd.bot_token, "intents": 0, "properties": {}, "shard": list(shard)}
    await ws.send_json({"op": 2, "d": data})
    return ws


async def next_dispatch(ws: aiohttp.ClientWebSocketResponse, event: str) -> dict[str, Any]:
    while True:
        payload = await asyncio.wait_for(ws.receive_json(), 5)
        if payload.get("t") == event:
            return dict(payload["d"])


async def test_two_sessions_of_one_shard_both_get_its_events_until_one_leaves(
    fake_discord: FakeDiscord, standard_guild: StandardGuild
) -> None:
    """A rolling deploy: the new process IDENTIFYs for a shard the old one still holds.
    Discord keeps both sessions, each sent the shard's events; a session whose client is
    gone is replaced by the next IDENTIFY."""
    fd, sg = fake_discord, standard_guild
    shard = ((sg.guild.id >> 22) % 2, 2)
    update = {"id": str(sg.text.id), "guild_id": str(sg.guild.id), "name": "renamed"}
    async with aiohttp.ClientSession() as session:
        old = await identify(session, fd, shard)
        await fd.gateway.wait_began(shard, 1, 5)
        [first] = fd.gateway.sessions.values()
        new = await identify(session, fd, shard)
        await fd.gateway.wait_began(shard, 2, 5)
        await fd.gateway.dispatch("CHANNEL_UPDATE", update)
        for ws in (old, new):
            assert (await next_dispatch(ws, "CHANNEL_UPDATE"))["name"] == "renamed"

        await old.close()
        await eventually(lambda: not first.live, within=5)
        newest = await identify(session, fd, shard)
        await fd.gateway.wait_began(shard, 3, 5)
        assert first.id not in fd.gateway.sessions
        assert len([s for s in fd.gateway.sessions.values() if s.shard == shard]) == 2
        await fd.gateway.dispatch("CHANNEL_UPDATE", update | {"name": "again"})
        for ws in (new, newest):
            assert (await next_dispatch(ws, "CHANNEL_UPDATE"))["name"] == "again"
        await new.close()
        await newest.close()
