"""Access rules and quota arithmetic as pure functions."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from bot.access import QuotaRule, Usage, Where, check_access, check_quota
from bot.config import parse_config
from bot.errors import StoryboardError

CONFIG = {
    "provider": {"base_url": "https://relay.example/v1", "dm_api_key": "sk-dm-key-1234567"},
    "guilds": {
        "1": {"api_key": "sk-a-1234567890", "allowed_role_ids": [10], "allowed_channel_ids": [20]}
    },
}


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_dm_needs_the_dm_key() -> None:
    config = parse_config(CONFIG, Path("c.toml"), env={})
    check_access(config.settings_for(None), Where(guild_id=None, channel_id=5))
    without = parse_config({"provider": {"base_url": "https://x/v1"}}, Path("c.toml"), env={})
    with pytest.raises(StoryboardError) as exc:
        check_access(without.settings_for(None), Where(guild_id=None, channel_id=5))
    assert exc.value.key == "access.dm"
    assert "sk-dm-key-1234567" in config.secrets()


@pytest.mark.parametrize(
    ("where", "key"),
    [
        (Where(guild_id=1, channel_id=20, role_ids=frozenset({10})), None),
        (Where(guild_id=1, channel_id=99, parent_id=20, role_ids=frozenset({10})), None),
        (Where(guild_id=1, channel_id=20, role_ids=frozenset({11})), "access.role"),
        (Where(guild_id=1, channel_id=21, role_ids=frozenset({10})), "access.channel"),
        (Where(guild_id=1, channel_id=21, is_admin=True), None),
    ],
)
def test_roles_and_channels(where: Where, key: str | None) -> None:
    settings = parse_config(CONFIG, Path("c.toml"), env={}).guild(1)
    if key is None:
        check_access(settings, where)
        return
    with pytest.raises(StoryboardError) as exc:
        check_access(settings, where)
    assert exc.value.key == key


@pytest.mark.parametrize(
    ("now", "hour", "start"),
    [
        ("2026-11-24T17:00:00", 0, "2026-11-24T00:00:00"),
        ("2026-11-24T05:59:59", 6, "2026-11-23T06:00:00"),
        ("2026-11-24T06:00:00", 6, "2026-11-24T06:00:00"),
    ],
)
def test_the_quota_day_starts_at_the_reset_hour(now: str, hour: int, start: str) -> None:
    rule = QuotaRule(reset_hour_utc=hour)
    assert rule.day_start(ts(now)) == ts(start)
    assert rule.next_reset(ts(now)) == int(ts(start)) + 86400


def test_quota_checks_name_the_limit() -> None:
    rule = QuotaRule(daily_jobs_per_user=2, daily_seconds_per_guild=30, cooldown_seconds=60)
    now = ts("2026-11-24T12:00:00")
    check_quota(
        rule,
        Usage(user_jobs_today=1, guild_seconds_today=15, user_last_job_at=now - 61),
        seconds=15,
        now=now,
    )
    cases = [
        (
            Usage(user_jobs_today=1, guild_seconds_today=0, user_last_job_at=now - 10),
            "quota.cooldown",
            {"wait": 50},
        ),
        (
            Usage(user_jobs_today=2, guild_seconds_today=0, user_last_job_at=None),
            "quota.user_jobs",
            {"limit": 2},
        ),
        (
            Usage(user_jobs_today=0, guild_seconds_today=20, user_last_job_at=None),
            "quota.guild_seconds",
            {"used": 20},
        ),
    ]
    for usage, key, fields in cases:
        with pytest.raises(StoryboardError) as exc:
            check_quota(rule, usage, seconds=15, now=now)
        assert exc.value.key == key
        assert fields.items() <= exc.value.fields.items()


def test_check_config_warns_about_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[provider]\nbase_url = "https://x/v1"\n')
    path.chmod(0o644)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert f"warning: {path}: readable by other users (mode 644)" in result.stderr
    path.chmod(0o600)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "warning" not in result.stderr
