"""fail2ban checks a copy of /etc/fail2ban with the rendered files (-t), and its dump of the resolved
configuration (-d) shows the sshd jail on port 2222 with maxretry 3, bantime 3600, the systemd
backend, and the recidive jail. `-t` lets unparsable values through with a "Wrong value" warning,
so that text fails the test too."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from render.steps import HostStep
from spec.host_paths import FAIL2BAN_LOCAL, JAIL_LOCAL
from tests.prerequisites import require_tool
from tests.render.conftest import Sandbox, run, summary

pytestmark = pytest.mark.render


def fail2ban_copy(tmp_path: Path, files: dict[str, str]) -> Path:
    require_tool("fail2ban-client")
    copy = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", copy, symlinks=True)
    for path, content in files.items():
        target = copy / path.removeprefix("/etc/fail2ban/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return copy


def check(copy: Path) -> tuple[int, str]:
    result = run(["fail2ban-client", "-c", str(copy), "-t"])
    return result.returncode, result.stdout + result.stderr


def dump(copy: Path) -> list[list[object]]:
    result = run(["fail2ban-client", "-c", str(copy), "-d"])
    assert result.returncode == 0, result.stderr
    assert "Wrong value" not in result.stdout + result.stderr
    return [ast.literal_eval(line) for line in result.stdout.splitlines() if line.startswith("[")]


def jail_settings(commands: list[list[object]], jail: str) -> dict[str, object]:
    settings: dict[str, object] = {}
    for command in commands:
        if command[:2] == ["add", jail]:
            settings["backend"] = command[2]
        elif command[:3] == ["set", jail, "addaction"]:
            settings.setdefault("actions", []).append(command[3])  # type: ignore[attr-defined]
        elif command[:3] == ["set", jail, "addjournalmatch"]:
            settings["journalmatch"] = " ".join(map(str, command[3:]))
        elif command[:3] == ["multi-set", jail, "action"]:
            options = settings.setdefault("action_options", {})
            assert isinstance(options, dict) and isinstance(command[4], list)
            options[command[3]] = {str(key): value for key, value in command[4]}
        elif command[:2] == ["set", jail] and len(command) == 4:
            settings[str(command[2])] = command[3]
    return settings


@pytest.fixture
def rendered(files: dict[str, str]) -> dict[str, str]:
    return {path: files[path] for path in (FAIL2BAN_LOCAL, JAIL_LOCAL)}


def test_fail2ban_accepts_and_resolves_the_jails(rendered: dict[str, str], tmp_path: Path) -> None:
    copy = fail2ban_copy(tmp_path, rendered)
    rc, output = check(copy)
    assert rc == 0, output
    assert "Wrong value" not in output
    assert "OK: configuration test is successful" in output
    commands = dump(copy)
    assert ["start", "sshd"] in commands and ["start", "recidive"] in commands
    sshd = jail_settings(commands, "sshd")
    assert sshd["backend"] == "systemd"
    assert sshd["maxretry"] == 3
    assert str(sshd["bantime"]) == "3600"
    assert str(sshd["findtime"]) == "600"
    assert sshd["actions"] == ["iptables-multiport"]
    assert sshd["action_options"]["iptables-multiport"]["port"] == "2222"  # type: ignore[index]
    recidive = jail_settings(commands, "recidive")
    assert recidive["backend"] == "systemd"
    assert recidive["maxretry"] == 5
    assert str(recidive["bantime"]) == "604800"
    assert str(recidive["findtime"]) == "86400"
    assert recidive["actions"] == ["iptables-allports"]
    assert recidive["journalmatch"] == "_SYSTEMD_UNIT=fail2ban.service PRIORITY=5"
    assert ["set", "logtarget", "SYSTEMD-JOURNAL"] in commands
    assert ["set", "dbpurgeage", "691200"] in commands or ["set", "dbpurgeage", 691200] in commands


def test_fail2ban_wrong_value_is_caught(rendered: dict[str, str], tmp_path: Path) -> None:
    broken = dict(rendered)
    broken[JAIL_LOCAL] = broken[JAIL_LOCAL].replace("maxretry = 3", "maxretry = lots")
    rc, output = check(fail2ban_copy(tmp_path, broken))
    # fail2ban itself only warns: the validator must treat the warning as the failure it is.
    assert "Wrong value for 'maxretry'" in output, output
    assert rc == 0


def test_fail2ban_rejects_a_missing_filter(rendered: dict[str, str], tmp_path: Path) -> None:
    broken = dict(rendered)
    broken[JAIL_LOCAL] += "\n[myapp]\nenabled = true\nfilter = nosuchfilter\nbackend = systemd\n"
    rc, output = check(fail2ban_copy(tmp_path, broken))
    assert rc != 0
    assert "nosuchfilter" in output


def test_fail2ban_step_is_idempotent(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    require_tool("fail2ban-client")
    result = sandbox.run(steps["fail2ban"].script, runs=2)
    assert result.returncode == 0, result.output
    assert summary(result.runs[0])["changed"] == "2"
    assert "validated: fail2ban-client -t" in result.runs[0]
    assert summary(result.runs[1]) == {"step": "fail2ban", "changed": "0"}
    for path, content in steps["fail2ban"].files.items():
        assert sandbox.upper(path).read_text(encoding="utf-8") == content


def test_fail2ban_step_rolls_back_a_wrong_value(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    require_tool("fail2ban-client")
    broken = steps["fail2ban"].script.replace("\nmaxretry = 3\n", "\nmaxretry = lots\n")
    assert broken != steps["fail2ban"].script
    result = sandbox.run(broken)
    assert result.returncode == 1, result.output
    assert "Wrong value" in result.stderr
    assert f"restored: {JAIL_LOCAL} (removed)" in result.stdout
    assert not sandbox.upper(JAIL_LOCAL).exists()
