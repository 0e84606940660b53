"""apt-config parses the unattended-upgrades files (and `#clear` really replaces the distribution's
origin list), perl compiles the needrestart override, and the upgrades step is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from render.steps import HostStep
from spec.host_paths import AUTO_UPGRADES, NEEDRESTART_CONF, UNATTENDED_UPGRADES
from tests.prerequisites import require_tool
from tests.render.conftest import Sandbox, make_config, make_runtime, run, summary

pytestmark = pytest.mark.render

# A stand-in for the distribution's 50unattended-upgrades: an extra origin our file must clear.
DISTRO_DEFAULTS = """\
Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename}-updates";
        "origin=Debian,codename=${distro_codename},label=Debian";
};
Unattended-Upgrade::Allowed-Origins { "${distro_id}:${distro_codename}-updates"; };
"""


def apt_dump(tmp_path: Path, contents: list[str]) -> tuple[int, dict[str, list[str]], str]:
    require_tool("apt-config")
    args = ["apt-config"]
    for index, content in enumerate(contents):
        path = tmp_path / f"{index:02d}.conf"
        path.write_text(content, encoding="utf-8")
        args += ["-c", str(path)]
    result = run([*args, "dump"])
    values: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(" ")
        # List items print as "Name:: value"; the list head as "Name "".
        name = key[:-2] + "[]" if key.endswith("::") else key
        values.setdefault(name, []).append(value.rstrip(";").strip('"'))
    return result.returncode, values, result.stderr


def test_apt_config_parses_upgrade_files(files: dict[str, str], tmp_path: Path) -> None:
    rc, values, errors = apt_dump(tmp_path, [DISTRO_DEFAULTS, files[AUTO_UPGRADES], files[UNATTENDED_UPGRADES]])
    assert rc == 0, errors
    assert values["APT::Periodic::Update-Package-Lists"] == ["1"]
    assert values["APT::Periodic::Unattended-Upgrade"] == ["1"]
    origins = values["Unattended-Upgrade::Origins-Pattern[]"]
    assert origins, values
    assert all("security" in origin.lower() for origin in origins), origins  # the -updates origin is gone
    assert "Unattended-Upgrade::Allowed-Origins[]" not in values
    blacklist = values["Unattended-Upgrade::Package-Blacklist[]"]
    for package in ("docker-ce", "docker-ce-cli", "containerd[.]io", "docker-compose-plugin"):
        assert f"^{package}$" in blacklist
    # host.docker.source debian: the archive's engine is never upgraded behind the operator's back either.
    for package in ("docker[.]io", "containerd", "runc", "docker-compose-v2"):
        assert f"^{package}$" in blacklist
    assert values["Unattended-Upgrade::Automatic-Reboot"] == ["false"]
    assert "Unattended-Upgrade::Automatic-Reboot-Time" not in values


def test_reboot_window_sets_the_reboot_time(tmp_path: Path) -> None:
    from render.host_upgrades import upgrades_files

    config = make_config(host={"rebootWindow": "03:30"})
    rendered = {item.path: item.content for item in upgrades_files(config)}
    rc, values, errors = apt_dump(tmp_path, [rendered[UNATTENDED_UPGRADES]])
    assert rc == 0, errors
    assert values["Unattended-Upgrade::Automatic-Reboot"] == ["true"]
    assert values["Unattended-Upgrade::Automatic-Reboot-Time"] == ["03:30"]


def test_apt_config_rejects_broken_file(files: dict[str, str], tmp_path: Path) -> None:
    broken = files[UNATTENDED_UPGRADES].replace('Automatic-Reboot "false";', 'Automatic-Reboot "false"')
    rc, _, errors = apt_dump(tmp_path, [broken])
    assert rc == 100
    assert "E: Syntax error" in errors


NEEDRESTART_CHECK = (
    'our %nrconf; do $ARGV[0]; die $@ if $@; print join(",", map { $nrconf{override_rc}{$_} } sort keys %{$nrconf{override_rc}}), "\\n"'
)


def test_needrestart_override_compiles(files: dict[str, str], tmp_path: Path) -> None:
    require_tool("perl")
    path = tmp_path / "needrestart.conf"
    path.write_text(files[NEEDRESTART_CONF], encoding="utf-8")
    result = run(["perl", "-e", NEEDRESTART_CHECK, str(path)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0,0"


def test_needrestart_broken_override_fails(files: dict[str, str], tmp_path: Path) -> None:
    require_tool("perl")
    path = tmp_path / "needrestart.conf"
    path.write_text(files[NEEDRESTART_CONF].replace("qr(^docker)} = 0;", "qr(^docker)} = 0"), encoding="utf-8")
    result = run(["perl", "-e", NEEDRESTART_CHECK, str(path)])
    assert result.returncode != 0
    assert "syntax error" in result.stderr


def test_upgrades_step_is_idempotent(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    require_tool("apt-config")
    result = sandbox.run(steps["upgrades"].script, runs=2)
    assert result.returncode == 0, result.output
    assert summary(result.runs[0])["changed"] == "3"
    assert "validated: apt-config dump" in result.runs[0]
    assert summary(result.runs[1]) == {"step": "upgrades", "changed": "0"}


def test_upgrades_step_rolls_back_what_apt_rejects(sandbox: Sandbox) -> None:
    require_tool("apt-config")
    config = make_config()
    from render.host_steps import host_steps
    from spec.resources import resolve

    step = next(s for s in host_steps(config, resolve(config), "app", make_runtime(config)) if s.name == "upgrades")
    broken = step.script.replace('Automatic-Reboot "false";', 'Automatic-Reboot "false"')
    result = sandbox.run(broken)
    assert result.returncode == 1, result.output
    assert "apt-config rejected the configuration" in result.stderr
    assert not sandbox.upper(UNATTENDED_UPGRADES).exists()
