"""The CLI as an admin runs it: `python -m bot` in a subprocess, exit codes and output."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
TWO_SHOTS = (
    "Shot 1:\nduration: 5sec\nScene: A door opens.\n\n"
    "Shot 2:\nduration: 10sec\nScene: A monster steps out.\n"
)


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_render_prints_the_canonical_storyboard() -> None:
    result = run_cli("render", "--seconds", "15", stdin=TWO_SHOTS)
    assert result.returncode == 0, result.stderr
    assert result.stdout == TWO_SHOTS


def test_render_with_the_wrong_length_exits_1_naming_the_sum() -> None:
    result = run_cli("render", "--seconds", "10", stdin=TWO_SHOTS)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "add up to 15 s but the video is 10 s" in result.stderr
    assert "Change shot 2 from 10 s to 5 s" in result.stderr


def test_check_config_on_the_example_exits_0_and_prints_no_key() -> None:
    result = run_cli("check-config", "config.example.toml")
    assert result.returncode == 0, result.stderr
    assert "config.example.toml: OK" in result.stdout
    assert "sk-replace-with-this-guilds-key" not in result.stdout + result.stderr
    # The example starts in the sandbox: no key, no provider.
    assert (
        "guild 123456789012345678: key (none needed); profile sandbox"
        " (no provider; a job takes 20 s)" in result.stdout
    )


@pytest.mark.parametrize(
    "base_url",
    [
        "https://user:sk-in-the-url-7777@relay.example/v1",
        "https://relay.example/v1?key=sk-in-the-url-7777",
    ],
)
def test_check_config_shows_no_key_put_in_the_base_url(tmp_path: Path, base_url: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[provider]\nbase_url = "{base_url}"\n[guilds."5"]\napi_key = "sk-secret-5555555"\n'
    )
    result = run_cli("check-config", str(config))
    assert result.returncode == 0, result.stderr
    assert "at https://" in result.stdout and "relay.example/v1" in result.stdout
    assert "sk-in-the-url" not in result.stdout + result.stderr


def test_check_config_names_every_bad_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[provider]\nbase_url = "https://x/v1"\n[guilds."5"]\napi_key = "sk-secret-5555555"\n'
        'seconds = 20\nmodel = "nope"\n'
    )
    result = run_cli("check-config", str(bad))
    assert result.returncode == 1
    assert f"{bad}: guilds.5.seconds: 20 is not one of 10, 15, 25" in result.stderr
    assert f"{bad}: guilds.5.model: 'nope' is not one of the allowed models" in result.stderr
    assert "sk-secret" not in result.stderr + result.stdout


def test_render_one_scene_per_line_and_request_fields(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    image = tmp_path / "ref.png"
    Image.new("RGB", (8, 8), "red").save(image)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a red door\n[4s] a cat\n"))
    code = main(
        [
            "render",
            "--seconds",
            "10",
            "--orientation",
            "portrait",
            "--request",
            "--image",
            str(image),
        ]
    )
    assert code == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields == {
        "model": "sora-2",
        "prompt": "Shot 1:\nduration: 6sec\nScene: a red door\n\nShot 2:\nduration: 4sec\nScene: a cat",
        "seconds": "10",
        "size": "720x1280",
        "watermark": "false",
        "private": "false",
        "input_reference": {
            "filename": "ref.png",
            "content_type": "image/png",
            "bytes": image.stat().st_size,
        },
    }


def test_render_refuses_a_fake_image(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "doc.png"
    fake.write_bytes(b"%PDF-1.7 not an image")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a cat\n"))
    assert main(["render", "--seconds", "10", "--image", str(fake)]) == 1
    assert "not a PNG, JPEG, WebP, HEIC or AVIF image" in capsys.readouterr().err


def test_render_errors_in_chinese(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(TWO_SHOTS))
    assert main(["render", "--seconds", "10", "--lang", "zh-CN"]) == 1
    assert "各镜头加起来是 15 秒" in capsys.readouterr().err


def test_run_without_token_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[provider]\nbase_url = "https://x/v1"\n')
    result = run_cli("run", "--config", str(cfg))
    assert result.returncode == 1
    assert "discord.token: missing" in result.stderr
