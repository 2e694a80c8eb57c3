"""config.toml: every bad field named with its file, keys kept per guild and masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, mask_secret
from bot.config_checks import needs_restart

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"

BASE = """
[discord]
token = "discord-token-abcdefghijkl"

[provider]
base_url = "https://relay.example/v1/"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def issues(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(path, env or {})
    return exc.value.describe().splitlines()


def test_example_config_loads() -> None:
    # The example starts in the sandbox: every server can submit without a key, and the
    # only thing the bot lacks is the Discord token (DISCORD_TOKEN, here).
    config = load_config(EXAMPLE, {"DISCORD_TOKEN": "a.token.only"})
    for guild in (config.guild(123456789012345678), config.guild(42)):
        assert (guild.profile.name, guild.api_key, guild.can_submit) == ("sandbox", None, True)
        assert guild.sandbox_seconds == 20
    assert config.file.provider.base_url is None
    assert config.secrets() == ["a.token.only"]


def test_a_real_profile_still_needs_a_base_url_and_a_key(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace('profile = "sandbox"', 'profile = "relay"')
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert [i.field for i in caught.value.issues] == ["provider.base_url"]
    text = text.replace("# base_url = ", "base_url = ", 1)
    config = load_config(write(tmp_path, text), {})
    assert not config.guild(123456789012345678).can_submit


def test_guild_inherits_defaults_and_overrides_its_own(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + """
[defaults]
seconds = 10

[guilds."111"]
api_key = "sk-guild-one-aaaaaaaa"
orientation = "portrait"

[guilds."222"]
api_key = "sk-guild-two-bbbbbbbb"
profile = "openai"
seconds = 8
base_url = "https://openai.example/v1"
""",
    )
    config = load_config(path, {})
    one, two = config.guild(111), config.guild(222)
    assert one.base_url == "https://relay.example/v1"
    assert (one.defaults.seconds, one.defaults.orientation, one.profile.name) == (
        10,
        "portrait",
        "relay",
    )
    assert (two.defaults.seconds, two.profile.name, two.base_url) == (
        8,
        "openai",
        "https://openai.example/v1",
    )
    assert one.api_key is not None and one.api_key.get_secret_value() == "sk-guild-one-aaaaaaaa"
    assert two.api_key is not None and two.api_key.get_secret_value() == "sk-guild-two-bbbbbbbb"
    assert "sk-guild" not in repr(config)


def test_seconds_outside_the_guilds_profile_is_named_with_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + '\n[guilds."123"]\napi_key = "sk-x-123456789"\nseconds = 20\n')
    assert issues(path) == [
        f"{path}: guilds.123.seconds: 20 is not one of 10, 15, 25 (profile relay)"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + """
[defaults]
orientation = "sideways"
colour = "blue"

[guilds."abc"]
api_key = "k"
""",
    )
    found = issues(path)
    assert any(line.startswith(f"{path}: defaults.orientation: ") for line in found)
    assert f"{path}: defaults.colour: unknown setting" in found
    assert any(line.startswith(f"{path}: guilds.abc") for line in found)


def test_cross_field_problems(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + """
[defaults]
seconds = 25

[guilds."1"]
api_key = "sk-aaaaaaaaaaaa"
api_key_env = "X"

[guilds."2"]
api_key_env = "MISSING_KEY_VAR"

[guilds."3"]
api_key = "sk-aaaaaaaaaaaa"
model = "sora-9"
""",
    )
    found = "\n".join(issues(path))
    assert "defaults.seconds: 25 needs a pro model" in found
    assert "guilds.1: set api_key or api_key_env, not both" in found
    assert "guilds.2.api_key_env: environment variable MISSING_KEY_VAR is not set" in found
    assert "guilds.3.model: 'sora-9' is not one of the allowed models" in found


def test_key_from_environment_and_token_override(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + '\n[guilds."7"]\napi_key_env = "GUILD7_KEY"\n')
    config = load_config(path, {"GUILD7_KEY": "sk-from-env-777777", "DISCORD_TOKEN": "env-token"})
    key = config.guild(7).api_key
    assert key is not None and key.get_secret_value() == "sk-from-env-777777"
    assert (
        config.discord_token is not None and config.discord_token.get_secret_value() == "env-token"
    )
    assert set(config.secrets()) == {"sk-from-env-777777", "env-token"}


def test_missing_file_and_broken_toml(tmp_path: Path) -> None:
    assert issues(tmp_path / "nope.toml") == [f"{tmp_path / 'nope.toml'}: (file): not found"]
    broken = write(tmp_path, "[provider\nbase_url=")
    assert issues(broken)[0].startswith(f"{broken}: (file): not valid TOML")


def test_base_url_must_be_http(tmp_path: Path) -> None:
    path = write(tmp_path, '[provider]\nbase_url = "ftp://x"\n')
    assert issues(path) == [
        f"{path}: provider.base_url: Value error, must start with http:// or https://"
    ]


def test_storage_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE), {}).storage_path == tmp_path / "storyboard.sqlite3"


@pytest.mark.parametrize(
    ("secret", "shown"),
    [("sk-abcdefghijklmnop", "****mnop"), ("short", "****"), (None, "(none)")],
)
def test_mask_secret_shows_at_most_four_characters(secret: str | None, shown: str) -> None:
    assert mask_secret(secret) == shown


def test_a_servers_language_is_one_the_bot_has(tmp_path: Path) -> None:
    good = write(tmp_path, BASE + '\n[guilds."111"]\nlocale = "zh-TW"\n')
    config = load_config(good, {})
    assert (config.guild(111).locale, config.guild(222).locale) == ("zh-TW", None)
    bad = write(tmp_path, BASE + '\n[guilds."111"]\nlocale = "fr"\n')
    [problem] = issues(bad)
    assert "guilds.111.locale" in problem
    assert "'en-US', 'zh-CN' or 'zh-TW'" in problem


def test_postgresql_by_url_or_by_the_variable_that_holds_it(tmp_path: Path) -> None:
    by_env = load_config(
        write(tmp_path, BASE + '\n[storage]\nurl_env = "DB_URL"\n'),
        {"DB_URL": "postgresql://bot:s3cret-pw@db.internal:5432/storyboard"},
    )
    assert by_env.storage_url is not None
    # Shown without its password; the password is a secret the logs mask.
    assert by_env.storage_shown == "postgresql://bot:****@db.internal:5432/storyboard"
    assert "s3cret-pw" in by_env.secrets()
    assert "s3cret-pw" not in repr(by_env)
    plain = load_config(
        write(tmp_path, BASE + '\n[storage]\nurl = "postgresql://bot@db.internal/sb"\n'), {}
    )
    assert plain.storage_shown == "postgresql://bot@db.internal/sb"
    # Without a url it is the SQLite file, as before.
    assert load_config(write(tmp_path, BASE), {}).storage_url is None


def test_a_storage_url_that_is_not_postgresql_or_given_twice_is_refused(tmp_path: Path) -> None:
    assert any(
        "storage.url: must be a PostgreSQL URL" in line
        for line in issues(write(tmp_path, BASE + '\n[storage]\nurl = "mysql://db/sb"\n'))
    )
    both = issues(
        write(tmp_path, BASE + '\n[storage]\nurl = "postgresql://db/sb"\nurl_env = "X"\n'),
        {"X": "postgresql://db/sb"},
    )
    assert any("storage: set url or url_env, not both" in line for line in both)
    assert any(
        "storage.url_env: environment variable NOPE is not set" in line
        for line in issues(write(tmp_path, BASE + '\n[storage]\nurl_env = "NOPE"\n'))
    )


def sharded(tmp_path: Path, lines: str) -> Path:
    """A config whose [discord] table also has `lines`."""
    return write(tmp_path, BASE.replace("[provider]", f"{lines}\n\n[provider]"))


def test_shards_come_from_the_file_and_the_environment_wins(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE), {}).shards is None  # one process, unsharded
    every = load_config(sharded(tmp_path, "shard_count = 3"), {}).shards
    assert every is not None and (every.count, every.ids) == (3, (0, 1, 2))
    path = sharded(tmp_path, "shard_count = 4\nshard_ids = [2, 3]")
    own = load_config(path, {}).shards
    assert own is not None and (own.count, own.ids) == (4, (2, 3))
    env = {"STORYBOARD_SHARD_COUNT": "8", "STORYBOARD_SHARD_IDS": " 6, 7 "}
    moved = load_config(path, env).shards
    assert moved is not None and (moved.count, moved.ids) == (8, (6, 7))
    # Each variable wins over its own line only; an empty one is unset.
    mixed = load_config(path, {"STORYBOARD_SHARD_IDS": "0", "STORYBOARD_SHARD_COUNT": ""}).shards
    assert mixed is not None and (mixed.count, mixed.ids) == (4, (0,))
    from_env = load_config(write(tmp_path, BASE), env).shards
    assert from_env == moved


@pytest.mark.parametrize(
    ("lines", "env", "problem"),
    [
        (
            "shard_ids = [0]",
            {},
            "discord.shard_ids: set without a shard count: set discord.shard_count (or"
            " STORYBOARD_SHARD_COUNT) to how many shards the whole bot runs",
        ),
        (
            "",
            {"STORYBOARD_SHARD_IDS": "1"},
            "discord.shard_ids: set without a shard count (from STORYBOARD_SHARD_IDS): set"
            " discord.shard_count (or STORYBOARD_SHARD_COUNT) to how many shards the whole"
            " bot runs",
        ),
        (
            "shard_count = 2\nshard_ids = [0, 2]",
            {},
            "discord.shard_ids: 2 is not a shard of 2: ids run from 0 to 1",
        ),
        (
            "shard_count = 4",
            {"STORYBOARD_SHARD_COUNT": "2", "STORYBOARD_SHARD_IDS": "3"},
            "discord.shard_ids: 3 (from STORYBOARD_SHARD_IDS) is not a shard of 2 (from"
            " STORYBOARD_SHARD_COUNT): ids run from 0 to 1",
        ),
        ("shard_count = 2\nshard_ids = [1, 1]", {}, "discord.shard_ids: 1 is listed twice"),
        (
            "shard_count = 2\nshard_ids = []",
            {},
            "discord.shard_ids: is empty; leave it out to run every shard here",
        ),
        ("shard_count = 0", {}, "discord.shard_count: Input should be greater than or equal to 1"),
        (
            'shard_count = "2"',
            {},
            'discord.shard_count: Input should be a valid integer (the file says "2")',
        ),
        (
            "shard_count = 2\nshard_ids = [-1]",
            {},
            "discord.shard_ids.0: Input should be greater than or equal to 0",
        ),
        ("shard_id = [0]", {}, "discord.shard_id: unknown setting; did you mean 'shard_ids'?"),
        (
            "",
            {"STORYBOARD_SHARD_COUNT": "two"},
            'discord.shard_count: STORYBOARD_SHARD_COUNT="two" in the environment is not a whole'
            " number of 1 or more",
        ),
        (
            "shard_count = 2",
            {"STORYBOARD_SHARD_IDS": "0;1"},
            'discord.shard_ids: STORYBOARD_SHARD_IDS="0;1" in the environment: "0;1" is not a'
            ' shard id; write whole numbers separated by commas, like "0,1"',
        ),
    ],
)
def test_shard_settings_that_cannot_be_are_named(
    tmp_path: Path, lines: str, env: dict[str, str], problem: str
) -> None:
    path = sharded(tmp_path, lines)
    assert issues(path, env) == [f"{path}: {problem}"]


def test_a_reload_that_moves_the_shards_says_they_need_a_restart(tmp_path: Path) -> None:
    running = load_config(sharded(tmp_path, "shard_count = 2\nshard_ids = [0]"), {})
    fresh = load_config(running.path, {"STORYBOARD_SHARD_IDS": "1"})
    assert needs_restart(running, fresh) == ["discord.shard_ids"]
    unsharded = load_config(write(tmp_path, BASE), {})
    assert needs_restart(unsharded, running) == ["discord.shard_count", "discord.shard_ids"]
    assert needs_restart(running, running) == []
