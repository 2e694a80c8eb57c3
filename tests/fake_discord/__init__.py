"""A fake Discord for end-to-end tests of the bot with the real discord.py client.

    async with FakeDiscord() as fd:              # or the `fake_discord` fixture
        sg = add_standard_guild(fd)              # or fd.add_guild(id, channels=..., members=...)
        async with fd.run_client(bot):           # points discord.py here, waits for READY
            ix = await fd.run_slash_command(guild=sg.guild, channel=sg.text, user=sg.alice,
                                            name="storyboard", options={"seconds": 15})
            await ix.wait_callback()             # ix.modal: the modal the bot sent
            sub = await fd.submit_modal(ix, values={"shot_1": "A door opens"},
                                        files={"image": [fd.attachment("cat.png", png)]})
            card = await fd.wait_for_call("POST /channels/{channel_id}/messages")
        fd.assert_all_valid()

Route names are "METHOD /template" with the templates of Discord's OpenAPI description,
e.g. "POST /interactions/{interaction_id}/{interaction_token}/callback" or
"POST /webhooks/{webhook_id}/{webhook_token}" (followups); `ROUTES.names` lists them all,
plus CDN_UPLOAD and CDN_ATTACHMENT for downloads. A misspelt template raises ValueError.

Message ids are dated by the wall clock plus `fd.advance_clock(...)`; a message older
than an hour takes only a few edits an hour (then 429, code 30046), as on Discord:
`fd.world.old_message_edits` has the ones it took.
"""

from .call_log import CDN_ATTACHMENT, CDN_UPLOAD, CallLog, CallMatch
from .discordpy import DiscordPyPatch
from .interactions import DEFAULT_SIZE_LIMIT, InteractionHandle
from .models import Channel, ChannelType, Guild, Member, Overwrite, Perm, Role
from .recording import FailureRule, RecordedCall
from .routing import ROUTES
from .server import DEFAULT_APP_ID, DEFAULT_BOT_TOKEN, GUILD_OWNER_ID, FakeDiscord
from .standard import StandardGuild, add_standard_guild
from .validation import Problem, load_discord_spec

__all__ = [
    "CDN_ATTACHMENT",
    "CDN_UPLOAD",
    "DEFAULT_APP_ID",
    "DEFAULT_BOT_TOKEN",
    "DEFAULT_SIZE_LIMIT",
    "GUILD_OWNER_ID",
    "ROUTES",
    "CallLog",
    "CallMatch",
    "Channel",
    "ChannelType",
    "DiscordPyPatch",
    "FailureRule",
    "FakeDiscord",
    "Guild",
    "InteractionHandle",
    "Member",
    "Overwrite",
    "Perm",
    "Problem",
    "RecordedCall",
    "Role",
    "StandardGuild",
    "add_standard_guild",
    "load_discord_spec",
]
