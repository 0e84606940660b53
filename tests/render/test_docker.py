"""daemon.json is valid JSON with the settings that keep a small Docker host healthy; the version pin
parses as apt preferences; the docker step (HP_SKIP=docker) installs both, idempotently."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from render.host_docker import DAEMON_JSON, PREFERENCES, SOURCES, sources_for
from render.steps import HostStep
from tests.render.conftest import Sandbox, require_tool, run, summary

pytestmark = pytest.mark.render


def json_tool(tmp_path: Path, content: str) -> tuple[int, str]:
    path = tmp_path / "daemon.json"
    path.write_text(content, encoding="utf-8")
    result = run([sys.executable, "-m", "json.tool", str(path)])
    return result.returncode, result.stdout + result.stderr


def test_daemon_json_is_valid(files: dict[str, str], tmp_path: Path) -> None:
    rc, output = json_tool(tmp_path, files[DAEMON_JSON])
    assert rc == 0, output
    settings = json.loads(files[DAEMON_JSON])
    assert settings["log-driver"] == "json-file"
    assert settings["log-opts"] == {"max-size": "100m", "max-file": "5"}
    assert settings["live-restore"] is True
    assert settings["userland-proxy"] is False
    assert settings["metrics-addr"] == "127.0.0.1:9323"
    assert settings["default-ulimits"]["nofile"] == {"Name": "nofile", "Soft": 65536, "Hard": 65536}


def test_json_tool_rejects_trailing_comma(files: dict[str, str], tmp_path: Path) -> None:
    broken = files[DAEMON_JSON].replace('"json-file"', '"json-file",,')
    rc, output = json_tool(tmp_path, broken)
    assert rc == 1
    assert "Expecting" in output


def apt_policy(tmp_path: Path, preferences: str) -> tuple[int, str]:
    require_tool("apt-cache")
    path = tmp_path / "preferences"
    path.write_text(preferences, encoding="utf-8")
    parts = tmp_path / "preferences.d"
    parts.mkdir(exist_ok=True)
    result = run(["apt-cache", "policy", "-o", f"Dir::Etc::Preferences={path}", "-o", f"Dir::Etc::PreferencesParts={parts}", "docker-ce"])
    return result.returncode, result.stdout + result.stderr


def test_version_pin_parses(files: dict[str, str], tmp_path: Path) -> None:
    assert "Pin: version 5:28.*\nPin-Priority: 1001\n" in files[PREFERENCES]
    rc, output = apt_policy(tmp_path, files[PREFERENCES])
    assert rc == 0, output
    assert "E:" not in output


def test_apt_rejects_broken_pin(files: dict[str, str], tmp_path: Path) -> None:
    rc, output = apt_policy(tmp_path, files[PREFERENCES].replace("Pin-Priority: 1001", "Pin-Priority: high"))
    assert rc == 100
    assert "E:" in output


def test_repository_per_os_release() -> None:
    assert "URIs: https://download.docker.com/linux/ubuntu\nSuites: noble\n" in sources_for("ubuntu-24.04")
    assert "URIs: https://download.docker.com/linux/debian\nSuites: bookworm\n" in sources_for("debian-12")
    assert "Signed-By: /etc/apt/keyrings/docker.asc" in sources_for("debian-12")


def test_docker_step_skipped_still_installs_its_files(steps: dict[str, HostStep], files: dict[str, str], sandbox: Sandbox) -> None:
    result = sandbox.run(steps["docker"].script, runs=2, skip="docker")
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert "skipped: Docker CE repository, packages and daemon restart (HP_SKIP=docker)" in first
    assert summary(first)["changed"] == "2"
    assert summary(second) == {"step": "docker", "changed": "0"}
    assert sandbox.upper(DAEMON_JSON).read_text(encoding="utf-8") == files[DAEMON_JSON]
    assert sandbox.upper(PREFERENCES).read_text(encoding="utf-8") == files[PREFERENCES]
    assert not sandbox.upper(SOURCES).exists()  # no repository without its key


def test_unknown_skip_token_is_refused(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    result = sandbox.run(steps["docker"].script, skip="dokcer")
    assert result.returncode == 1
    assert "unknown HP_SKIP token 'dokcer'" in result.stderr
