"""The base step (HP_SKIP=packages,sysctl,swap) installs its files idempotently; every sysctl key it
sets exists on this kernel (read from /proc/sys only, nothing is written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from render.steps import HostStep
from spec.host_paths import SWAP_UNIT, SYSCTL_FILE
from tests.render.conftest import Sandbox, make_config, summary

pytestmark = pytest.mark.render


def sysctl_keys(content: str) -> dict[str, str]:
    settings = {}
    for line in content.splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def missing_keys(content: str) -> list[str]:
    return [key for key in sysctl_keys(content) if not Path("/proc/sys", *key.split(".")).exists()]


def test_sysctl_keys_exist_on_this_kernel(files: dict[str, str]) -> None:
    settings = sysctl_keys(files[SYSCTL_FILE])
    assert settings["net.ipv4.ip_forward"] == "1"
    assert settings["vm.swappiness"] == "10"
    assert settings["net.core.rmem_max"] == "134217728"
    assert settings["fs.file-max"] == "2097152"
    assert missing_keys(files[SYSCTL_FILE]) == []


def test_sysctl_check_catches_a_typo(files: dict[str, str]) -> None:
    broken = files[SYSCTL_FILE].replace("vm.swappiness", "vm.swapiness")
    assert missing_keys(broken) == ["vm.swapiness"]


def test_sysctl_overrides_merge_over_defaults() -> None:
    config = make_config(host={"sysctl": {"vm.swappiness": "1", "net.core.somaxconn": "8192"}})
    settings = config.host.sysctl_settings()
    assert settings["vm.swappiness"] == "1"
    assert settings["net.core.somaxconn"] == "8192"
    assert settings["net.ipv4.ip_forward"] == "1"


def test_base_step_is_idempotent(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    result = sandbox.run(steps["base"].script, runs=2, skip="packages,sysctl,swap")
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert "skipped: runtime sysctl values (HP_SKIP=sysctl)" in first
    assert "skipped: swap file /swapfile of 4 GiB (HP_SKIP=swap)" in first
    assert summary(second) == {"step": "base", "changed": "0"}
    for path, content in steps["base"].files.items():
        assert sandbox.upper(path).read_text(encoding="utf-8") == content, path
    link = sandbox.upper("/etc/systemd/system/swap.target.wants/swapfile.swap")
    assert link.is_symlink() and str(link.readlink()) == SWAP_UNIT
    assert str(sandbox.upper("/etc/localtime").readlink()) == "../usr/share/zoneinfo/UTC"


# A stand-in for sysctl(8) over a state file: the runtime loop is exercised, the kernel never is.
SYSCTL_STUB = r"""#!/bin/bash
state=/run/sysctl-state
if [ "$1" = -n ]; then
  awk -F= -v k="$2" '$1 == k { sub(/^[^=]*=/, ""); print; found = 1 } END { exit !found }' "$state"
  exit
fi
if [ "$1" = -q ] && [ "$2" = -w ]; then
  # Like procps in a container: the kernel refuses this key, yet the exit status is 0.
  [ "${3%%=*}" = net.core.rmem_max ] && exit 0
  awk -F= -v k="${3%%=*}" '$1 != k' "$state" > "$state.new"
  printf '%s\n' "$3" >> "$state.new"
  mv "$state.new" "$state"
  exit 0
fi
exit 2
"""


def test_runtime_sysctl_values_are_applied_once(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    settings = sysctl_keys(steps["base"].files[SYSCTL_FILE])
    # Everything at a different value, tcp_rmem tab-separated as the kernel prints it, one key absent.
    state = {key: "0" for key in settings if key != "net.core.default_qdisc"}
    state["net.ipv4.tcp_rmem"] = "4096\t87380\t134217728"
    sandbox.overlays = (*sandbox.overlays, "/usr/local")
    sandbox.seed("/usr/local/sbin/sysctl", SYSCTL_STUB, mode=0o755)
    before = "cat > /run/sysctl-state <<'EOF'\n" + "".join(f"{k}={v}\n" for k, v in state.items()) + "EOF"
    result = sandbox.run(steps["base"].script, runs=2, skip="packages,swap", before=before)
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert "changed: sysctl vm.swappiness = 10 (was 0)" in first
    assert "sysctl net.ipv4.tcp_rmem" not in first  # equal once whitespace is normalised
    assert "sysctl net.core.default_qdisc does not exist on this kernel" in result.stderr
    assert "warning: sysctl -w net.core.rmem_max=134217728 failed (kept 0)" in result.stderr
    assert "changed: sysctl net.core.rmem_max" not in result.stdout
    assert summary(second) == {"step": "base", "changed": "0"}


CLOUD_INIT_STUB = """#!/bin/sh
# Reads its stdin like many tools do: with the script on stdin (`bash -s`), that would eat the rest.
cat >/dev/null
[ "$1" = status ] && [ "$2" = --long ] && echo "status: done"
exit 0
"""


def test_wait_step_and_stdin_safety(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    sandbox.overlays = (*sandbox.overlays, "/usr/local")
    sandbox.seed("/usr/local/bin/cloud-init", CLOUD_INIT_STUB, mode=0o755)
    result = sandbox.run(steps["wait"].script, runs=2)
    assert result.returncode == 0, result.output
    assert "os: " in result.runs[0]
    assert "cloud-init: done" in result.runs[0]
    assert summary(result.runs[1]) == {"step": "wait", "changed": "0"}
