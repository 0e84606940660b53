"""Secrets: names, the env file format, and proof that no value leaks into any other rendered file."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest

from render.app import app_files, app_step, render_env_file, secret_names, secret_specs
from render.registry import registry_logins
from render.steps import HostRuntime
from tests.prerequisites import require_tool
from tests.stacks import EXAMPLES, preset_config, presets

from .conftest import COMPOSE_BIN

TRICKY = {
    "PLAIN": "hunter2",
    "DOLLARS": "pa$$w0rd$HOME${USER}",
    "QUOTE": "it's",
    "BOTH": "it's $HOME \"quoted\" \\ back",
    "NEWLINE": "line1\nline2",
    "HASH": "a # not a comment",
    "TRAILING_BACKSLASH": "ends with \\",
    "SPACES": "  padded  ",
    "HTPASSWD": "admin:$2y$05$abcdefghijklmnopqrstuv/wxyz0123456789ABCDEFGHIJKLMN",
}


def test_env_file_values_come_back_byte_for_byte_through_compose(tmp_path: Path) -> None:
    require_tool("docker-compose")
    compose = "name: t\nservices:\n  a:\n    image: busybox\n    environment:\n"
    compose += "".join(f"      {name}: ${{{name}:?missing}}\n" for name in TRICKY)
    (tmp_path / "c.yml").write_text(compose)
    (tmp_path / "env").write_text(render_env_file(TRICKY))
    done = subprocess.run([str(COMPOSE_BIN), "-f", str(tmp_path / "c.yml"), "--env-file", str(tmp_path / "env"),
                           "config", "--format", "json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import json

    environment = json.loads(done.stdout)["services"]["a"]["environment"]
    # compose prints a literal `$` as `$$` in its normalised model.
    assert {name: value.replace("$$", "$") for name, value in environment.items()} == TRICKY


def test_env_file_rejects_nul_bytes() -> None:
    with pytest.raises(ValueError, match="NUL"):
        render_env_file({"BAD": "a\0b"})


EXPECTED_SECRETS = {
    "Pulumi.fastapi-celery.yaml": ["POSTGRES_PASSWORD"],
    "Pulumi.fastapi-arq-pgvector.yaml": ["NETDATA_HTPASSWD", "OPENAI_API_KEY", "POSTGRES_PASSWORD", "S3_ACCESS_KEY_ID",
                                         "S3_SECRET_ACCESS_KEY"],
    "Pulumi.chrono-single.yaml": ["CF_DNS_API_TOKEN", "MEILI_MASTER_KEY", "POSTGRES_PASSWORD", "SECRET_KEY"],
    "Pulumi.chrono-phase2.yaml": ["CF_DNS_API_TOKEN", "MEILI_MASTER_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD",
                                  "SECRET_KEY"],
    "Pulumi.ytempire.yaml": ["DB_PASSWORD", "ELEVENLABS_API_KEY", "JWT_SECRET", "N8N_PASSWORD", "OPENAI_API_KEY",
                             "YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET"],
}


@pytest.mark.parametrize("preset", sorted(EXPECTED_SECRETS))
def test_secret_names_per_preset(preset: str) -> None:
    config = preset_config(EXAMPLES / preset)
    assert secret_names(config) == EXPECTED_SECRETS[preset]
    specs = {spec.name: spec for spec in secret_specs(config)}
    for name in config.app.generate_secrets:
        assert specs[name].generate
    if "CF_DNS_API_TOKEN" in specs:
        assert specs["CF_DNS_API_TOKEN"].source == "cloudflare" and not specs["CF_DNS_API_TOKEN"].generate
    if "NETDATA_HTPASSWD" in specs:
        assert not specs["NETDATA_HTPASSWD"].generate


def test_secrets_are_only_sent_to_the_servers_that_use_them() -> None:
    config = preset_config(EXAMPLES / "Pulumi.chrono-phase2.yaml")
    assert "CF_DNS_API_TOKEN" in secret_names(config, "web")
    assert "CF_DNS_API_TOKEN" not in secret_names(config, "db")
    assert secret_names(config, "db") == ["MEILI_MASTER_KEY", "POSTGRES_PASSWORD"]


_HEREDOC = re.compile(r"^(?P<cmd>[^\n]*)<<'HP_B64'\n(?P<body>.*?)^HP_B64$", re.S | re.M)


def decoded_blocks(script: str) -> list[tuple[str, str]]:
    """(command, decoded content) for every base64 heredoc the deploy script carries."""
    return [(m.group("cmd").strip(), base64.b64decode(m.group("body")).decode()) for m in _HEREDOC.finditer(script)]


# A swarm preset has no env file: tests/swarm/test_swarm_scripts.py checks where its secrets travel.
@pytest.mark.parametrize("path", [p for p in presets() if preset_config(p).app.engine == "compose"], ids=lambda p: p.name)
def test_sentinel_secrets_appear_only_in_the_env_file_sent_over_stdin(path: Path) -> None:
    config = preset_config(path)
    for server in config.servers:
        names = secret_names(config, server)
        sentinels = {name: f"SENTINEL-{name}-7f3a9c" for name in names}
        step = app_step(config, server, HostRuntime(), sentinels)
        if not names:
            assert "SENTINEL" not in step.script
            continue
        # 1. Every file the plan and the step list: no sentinel anywhere (the env file holds placeholders).
        for files in (step.files, app_files(config, server)):
            for file_path, content in files.items():
                assert "SENTINEL" not in content, file_path
        # 2. The script itself: no plain sentinel, and among its decoded payloads only write_env's and the
        #    release's secret files (Redis' requirepass) have them.
        assert "SENTINEL" not in step.script
        #    Registry tokens go to `docker login` on stdin only, never into the env file.
        blocks = [(command.splitlines()[-1], content) for command, content in decoded_blocks(step.script)]
        env_blocks = [content for command, content in blocks if 'base64 -d >"$tmp"' in command]
        assert len(env_blocks) == 1
        tokens = {login.secret for login in registry_logins(config)}
        for name, value in sentinels.items():
            if name in tokens:
                assert value not in env_blocks[0]
                assert any(content == value for command, content in blocks if command.strip().startswith("docker_login "))
            else:
                assert f"{name}='{value}'" in env_blocks[0]
        for command, content in blocks:
            if content is not env_blocks[0] and '/secrets/' not in command and not command.strip().startswith("docker_login "):
                assert "SENTINEL" not in content, command


def test_env_file_in_the_plan_shows_placeholders() -> None:
    config = preset_config(EXAMPLES / "Pulumi.fastapi-celery.yaml")
    env = next(content for path, content in app_files(config, "app").items() if path.endswith("/.env"))
    assert "POSTGRES_PASSWORD='<secret appSecrets.POSTGRES_PASSWORD: set at deploy time>'" in env
