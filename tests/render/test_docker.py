"""daemon.json is valid JSON with the settings that keep a small Docker host healthy; the version pin
parses as apt preferences; the docker step (HP_SKIP=docker) installs both, idempotently. With
host.docker.source debian: the OS archive's packages, no Docker repository, and the compose plugin
download that installs only a binary with the pinned sha256."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from config.errors import ConfigError
from config.loader import validate_config
from render.host_docker import sources_for
from render.host_steps import host_steps
from render.steps import HostStep
from spec.docker import COMPOSE_PLUGIN_PATH, DOCKER_CE_PACKAGES
from spec.host_paths import DOCKER_DAEMON_JSON, DOCKER_PREFERENCES, DOCKER_SOURCES
from spec.resources import resolve
from tests.prerequisites import require_tool
from tests.render.conftest import (
    COMPOSE_PLUGIN,
    Sandbox,
    SandboxResult,
    make_config,
    make_runtime,
    run,
    stack_values,
    summary,
)

pytestmark = pytest.mark.render


def json_tool(tmp_path: Path, content: str) -> tuple[int, str]:
    path = tmp_path / "daemon.json"
    path.write_text(content, encoding="utf-8")
    result = run([sys.executable, "-m", "json.tool", str(path)])
    return result.returncode, result.stdout + result.stderr


def test_daemon_json_is_valid(files: dict[str, str], tmp_path: Path) -> None:
    rc, output = json_tool(tmp_path, files[DOCKER_DAEMON_JSON])
    assert rc == 0, output
    settings = json.loads(files[DOCKER_DAEMON_JSON])
    assert settings["log-driver"] == "json-file"
    assert settings["log-opts"] == {"max-size": "100m", "max-file": "5"}
    assert settings["live-restore"] is True
    assert settings["userland-proxy"] is False
    assert settings["metrics-addr"] == "127.0.0.1:9323"
    assert settings["default-ulimits"]["nofile"] == {"Name": "nofile", "Soft": 65536, "Hard": 65536}


def test_json_tool_rejects_trailing_comma(files: dict[str, str], tmp_path: Path) -> None:
    broken = files[DOCKER_DAEMON_JSON].replace('"json-file"', '"json-file",,')
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
    assert "Pin: version 5:28.*\nPin-Priority: 1001\n" in files[DOCKER_PREFERENCES]
    rc, output = apt_policy(tmp_path, files[DOCKER_PREFERENCES])
    assert rc == 0, output
    assert "E:" not in output


def test_apt_rejects_broken_pin(files: dict[str, str], tmp_path: Path) -> None:
    rc, output = apt_policy(tmp_path, files[DOCKER_PREFERENCES].replace("Pin-Priority: 1001", "Pin-Priority: high"))
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
    assert "skipped: Docker (docker-ce) repository, packages and daemon restart (HP_SKIP=docker)" in first
    assert summary(first)["changed"] == "2"
    assert summary(second) == {"step": "docker", "changed": "0"}
    assert sandbox.upper(DOCKER_DAEMON_JSON).read_text(encoding="utf-8") == files[DOCKER_DAEMON_JSON]
    assert sandbox.upper(DOCKER_PREFERENCES).read_text(encoding="utf-8") == files[DOCKER_PREFERENCES]
    assert not sandbox.upper(DOCKER_SOURCES).exists()  # no repository without its key


def test_unknown_skip_token_is_refused(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    result = sandbox.run(steps["docker"].script, skip="dokcer")
    assert result.returncode == 1
    assert "unknown HP_SKIP token 'dokcer'" in result.stderr


# --- host.docker.source: debian (the OS archive's docker.io) -------------------------------------------
def archive_step(**host_docker: Any) -> HostStep:
    image = host_docker.pop("image", "debian-12")
    config = make_config(
        servers={"app": {"serverType": "cx33", "image": image}},
        host={"docker": {"source": "debian", **host_docker}},
    )
    return next(step for step in host_steps(config, resolve(config), "app", make_runtime(config)) if step.name == "docker")


def bash_array(script: str, name: str) -> list[str]:
    match = re.search(rf"^{name}=\(\n(.*?)\)$", script, re.MULTILINE | re.DOTALL)
    assert match, f"{name} not in the script"
    return [line.strip().strip("'") for line in match.group(1).splitlines()]


def test_default_source_is_docker_ce(steps: dict[str, HostStep]) -> None:
    script = steps["docker"].script
    assert "HP_DOCKER_SOURCE='docker-ce'" in script
    assert bash_array(script, "HP_DOCKER_PACKAGES") == list(DOCKER_CE_PACKAGES)
    assert "docker.io" in bash_array(script, "HP_DOCKER_CONFLICTS")


def test_debian_source_on_ubuntu_installs_the_archive_engine_and_compose_v2() -> None:
    step = archive_step(image="ubuntu-24.04")
    assert "HP_DOCKER_SOURCE='debian'" in step.script
    assert bash_array(step.script, "HP_DOCKER_PACKAGES") == ["docker.io", "docker-compose-v2"]
    assert {"docker-ce", "containerd.io", "docker-compose-plugin"} <= set(bash_array(step.script, "HP_DOCKER_CONFLICTS"))
    # No Docker repository, key or pin: only daemon.json.
    assert list(step.files) == [DOCKER_DAEMON_JSON]
    assert "HP_DOCKER_COMPOSE_URL=''" in step.script


def test_debian_source_on_debian_12_downloads_the_pinned_compose_plugin() -> None:
    step = archive_step(composePlugin=COMPOSE_PLUGIN)
    assert bash_array(step.script, "HP_DOCKER_PACKAGES") == ["docker.io"]
    assert f"HP_DOCKER_COMPOSE_URL='{COMPOSE_PLUGIN['url']}'" in step.script
    assert f"HP_DOCKER_COMPOSE_SHA256='{COMPOSE_PLUGIN['sha256']}'" in step.script
    assert f"HP_DOCKER_COMPOSE_PATH='{COMPOSE_PLUGIN_PATH}'" in step.script
    assert list(step.files) == [DOCKER_DAEMON_JSON]


def test_debian_12_without_compose_plugin_is_refused() -> None:
    values = stack_values(host={"docker": {"source": "debian"}})
    with pytest.raises(ConfigError) as caught:
        validate_config(values)
    reasons = {issue.path: issue.reason for issue in caught.value.issues}
    assert list(reasons) == ["host.docker.composePlugin"]
    assert "no compose v2 package" in reasons["host.docker.composePlugin"]


@pytest.mark.parametrize(
    ("plugin", "path", "reason"),
    [
        ({"url": "http://example.com/docker-compose", "sha256": "ab" * 32}, "host.docker.composePlugin.url", "https:// or file:///"),
        ({"url": "https://example.com/docker-compose", "sha256": "AB" * 32}, "host.docker.composePlugin.sha256", "64 lowercase hex"),
    ],
)
def test_compose_plugin_fields_are_checked(plugin: dict[str, str], path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(stack_values(host={"docker": {"source": "debian", "composePlugin": plugin}}))
    reasons = {issue.path: issue.reason for issue in caught.value.issues}
    assert path in reasons and reason in reasons[path], reasons


def test_archive_step_skipped_installs_only_daemon_json(sandbox: Sandbox) -> None:
    step = archive_step(composePlugin=COMPOSE_PLUGIN)
    result = sandbox.run(step.script, runs=2, skip="docker")
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert "skipped: Docker (debian) repository, packages and daemon restart (HP_SKIP=docker)" in first
    assert summary(first)["changed"] == "1"
    assert summary(second) == {"step": "docker", "changed": "0"}
    assert sandbox.upper(DOCKER_DAEMON_JSON).read_text(encoding="utf-8") == step.files[DOCKER_DAEMON_JSON]
    assert not sandbox.upper(DOCKER_PREFERENCES).exists()


def compose_download(tmp_path: Path, sha256: str) -> tuple[Sandbox, SandboxResult]:
    """Only the step's download function, twice, in a sandbox whose /usr/local is an overlay too; the
    "plugin" is a small file served as file:///etc/hp-test/docker-compose (curl reads file:// URLs)."""
    box = Sandbox(tmp_path / "download", overlays=("/etc", "/mnt", "/usr/local"))
    box.seed("/etc/hp-test/docker-compose", PLUGIN_CONTENT)
    step = archive_step(composePlugin={"url": "file:///etc/hp-test/docker-compose", "sha256": sha256})
    script = step.script.replace("hp_run </dev/null", 'HP_TMP=$(mktemp -d); hp_docker_compose_download; hp_done')
    assert script != step.script
    return box, box.run(script, runs=2)


PLUGIN_CONTENT = "#!/bin/sh\necho 'Docker Compose version v2.99.0 (test stand-in)'\n"


def test_compose_download_installs_a_matching_plugin_once(tmp_path: Path) -> None:
    box, result = compose_download(tmp_path, hashlib.sha256(PLUGIN_CONTENT.encode()).hexdigest())
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert f"changed: {COMPOSE_PLUGIN_PATH}" in first
    assert summary(second) == {"step": "docker", "changed": "0"}
    installed = box.upper(COMPOSE_PLUGIN_PATH)
    assert installed.read_text(encoding="utf-8") == PLUGIN_CONTENT
    assert oct(installed.stat().st_mode & 0o777) == "0o755"


def test_compose_download_refuses_a_wrong_digest(tmp_path: Path) -> None:
    box, result = compose_download(tmp_path, "0" * 64)
    assert result.returncode != 0
    assert f"has sha256 {hashlib.sha256(PLUGIN_CONTENT.encode()).hexdigest()}, not {'0' * 64}" in result.stderr
    assert not box.upper(COMPOSE_PLUGIN_PATH).exists()
