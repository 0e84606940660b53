"""Every rendered step script: bash -n and shellcheck clean; plus the pure contract of host_steps."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from config.host_settings import HostConfig
from config.schema import StackConfig
from render.cloud_init import render_user_data
from render.host_script import TEMPLATES
from render.host_steps import STEP_ORDER, USER_DATA, host_steps, render_host_files
from render.steps import HostRuntime, HostStep
from spec.resources import resolve
from tests.prerequisites import require_tool
from tests.render.conftest import VARIANTS, make_config, make_runtime, run

pytestmark = pytest.mark.render

BROKEN_SYNTAX = 'hp_step() {\n  echo "unterminated\n}\n'
BROKEN_LINT = "#!/usr/bin/env bash\ncd $1\nrm -rf $dir/\necho $undefined_var\n"


def all_scripts() -> list[tuple[str, HostStep]]:
    scripts = []
    for variant, build in VARIANTS.items():
        config = build()
        for step in host_steps(config, resolve(config), "app", make_runtime(config)):
            scripts.append((f"{variant}/{step.name}", step))
    return scripts


@pytest.fixture(scope="module")
def script_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scripts")
    for name, step in all_scripts():
        path = root / f"{name.replace('/', '__')}.sh"
        path.write_text(step.script, encoding="utf-8")
    return root


def test_bash_syntax_of_every_script(script_dir: Path) -> None:
    require_tool("bash")
    scripts = sorted(script_dir.glob("*.sh"))
    assert len(scripts) >= 20
    for path in scripts:
        result = run(["bash", "-n", str(path)])
        assert result.returncode == 0, f"{path.name}: {result.stderr}"


def test_shellcheck_clean_every_script(script_dir: Path) -> None:
    require_tool("shellcheck")
    scripts = sorted(str(path) for path in script_dir.glob("*.sh"))
    # One shellcheck per script, in parallel: a single process takes ~0.6 s per script.
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda path: run(["shellcheck", "-s", "bash", "-S", "warning", "-f", "gcc", path]), scripts))
    problems = [result.stdout + result.stderr for result in results if result.returncode != 0]
    assert not problems, "\n".join(problems)


def test_bash_templates_have_no_placeholders() -> None:
    """Values reach the scripts as bash assignments; the bash templates stay plain bash."""
    for path in sorted(TEMPLATES.glob("*.sh")):
        assert "{{" not in path.read_text(encoding="utf-8"), path.name


def test_bash_n_rejects_broken_script(tmp_path: Path) -> None:
    require_tool("bash")
    path = tmp_path / "broken.sh"
    path.write_text(BROKEN_SYNTAX, encoding="utf-8")
    result = run(["bash", "-n", str(path)])
    assert result.returncode == 2
    assert "unexpected EOF" in result.stderr


def test_shellcheck_rejects_broken_script(tmp_path: Path) -> None:
    require_tool("shellcheck")
    path = tmp_path / "broken.sh"
    path.write_text(BROKEN_LINT, encoding="utf-8")
    result = run(["shellcheck", "-s", "bash", "-S", "warning", "-f", "gcc", str(path)])
    assert result.returncode == 1
    for code in ("SC2164", "SC2115", "SC2154"):
        assert code in result.stdout


# --- the pure contract ---------------------------------------------------------------------------
def test_step_order_and_relevance() -> None:
    config = make_config()
    names = [step.name for step in host_steps(config, resolve(config), "app", make_runtime(config))]
    assert names == list(STEP_ORDER)
    minimal = VARIANTS["minimal"]()
    assert [s.name for s in host_steps(minimal, resolve(minimal), "app", make_runtime(minimal))] == [
        "wait", "base", "ssh", "firewall", "fail2ban", "upgrades",
    ]  # fmt: skip


def test_storage_and_network_only_on_their_server() -> None:
    config = make_config(
        servers={
            "web": {"serverType": "cx33", "roles": ["web"]},
            "db": {"serverType": "cx33", "roles": ["db"]},
        },
        volumes={"data": {"sizeGb": 100, "server": "db"}},
    )
    web = [s.name for s in host_steps(config, resolve(config), "web", HostRuntime(floating_ip="192.0.2.10"))]
    db = [s.name for s in host_steps(config, resolve(config), "db", HostRuntime(volume_ids={"data": 7}))]
    assert "network" in web and "storage" not in web
    assert "storage" in db and "network" not in db


def test_step_names_do_not_depend_on_runtime() -> None:
    """components/host_setup.py declares the commands with an empty HostRuntime before ids exist."""
    config = make_config()
    empty = [s.name for s in host_steps(config, resolve(config), "app", HostRuntime())]
    full = [s.name for s in host_steps(config, resolve(config), "app", make_runtime(config))]
    assert empty == full
    scripts = {s.name: s.script for s in host_steps(config, resolve(config), "app", HostRuntime())}
    assert "HP_MISSING_RUNTIME='id of volume data'" in scripts["storage"]
    assert "HP_MISSING_RUNTIME='floating IP address'" in scripts["network"]
    assert "HP_MISSING_RUNTIME=''" in scripts["base"]


def test_rendering_is_deterministic_and_digest_tracks_content() -> None:
    config = make_config()
    first = {s.name: s.digest for s in host_steps(config, resolve(config), "app", make_runtime(config))}
    fresh = make_config()
    second = {s.name: s.digest for s in host_steps(fresh, resolve(fresh), "app", make_runtime(config))}
    assert first == second
    other = make_config(host={"timezone": "Europe/Berlin", "swapGb": 4, "adminPorts": [9000]})
    changed = {s.name: s.digest for s in host_steps(other, resolve(other), "app", make_runtime(other))}
    assert {name for name in first if first[name] != changed[name]} == {"base"}


def test_every_script_reports_and_ends_with_the_runner() -> None:
    for name, step in all_scripts():
        assert step.script.startswith("#!/usr/bin/env bash\n"), name
        assert "set -Eeuo pipefail" in step.script, name
        assert step.script.endswith("\nhp_run </dev/null\n"), name
        assert 'hp_log "hetzner-platform step=$HP_STEP changed=$HP_CHANGED"' in step.script, name
        assert f"HP_STEP='{step.name}'" in step.script, name


def test_files_are_embedded_verbatim(steps: dict[str, HostStep]) -> None:
    for step in steps.values():
        for path, content in step.files.items():
            assert f"{path})\n      cat <<'HP_EOF'\n{content}HP_EOF\n" in step.script, path


def test_render_host_files_is_the_union_plus_user_data(
    config: StackConfig, runtime: HostRuntime, steps: dict[str, HostStep], files: dict[str, str]
) -> None:
    union = {path: content for step in steps.values() for path, content in step.files.items()}
    assert files == {**union, USER_DATA: render_user_data(config)}
    assert render_host_files(config, resolve(config), "app", runtime) == files
    expected = {
        "/etc/ssh/sshd_config.d/00-hetzner-platform-port.conf",
        "/etc/ssh/sshd_config.d/10-hetzner-platform.conf",
        "/etc/systemd/system/ssh.socket.d/10-hetzner-platform-port.conf",
        "/etc/sysctl.d/90-hetzner-platform.conf",
        "/etc/systemd/system/swapfile.swap",
        "/etc/ufw/after.rules",
        "/etc/ufw/after6.rules",
        "/etc/fail2ban/jail.d/hetzner-platform.local",
        "/etc/apt/apt.conf.d/52hetzner-platform-unattended-upgrades",
        "/etc/docker/daemon.json",
        "/etc/apt/preferences.d/docker-ce",
        "/etc/fstab",
        "/etc/netplan/60-floating-ip.yaml",
        "/etc/network/interfaces.d/60-floating-ip.cfg",
    }
    assert expected <= set(files)


def test_cloud_init_writes_the_same_sshd_files_the_ssh_step_keeps(config: StackConfig, files: dict[str, str]) -> None:
    import yaml

    document = yaml.safe_load(render_user_data(config))
    written = {entry["path"]: entry["content"] for entry in document["write_files"]}
    for path, content in written.items():
        assert files[path] == content


def test_skip_tokens_are_documented() -> None:
    lib = (TEMPLATES / "lib.sh").read_text(encoding="utf-8")
    known = re.search(r'^HP_KNOWN_SKIPS="([^"]+)"', lib, re.M)
    assert known is not None
    for token in known.group(1).split():
        assert re.search(rf"^#   {token} ", lib, re.M), f"HP_SKIP token {token} is not documented in lib.sh"
        docs = Path(__file__).resolve().parents[2] / "docs" / "host.md"
        if docs.exists():
            assert f"`{token}`" in docs.read_text(encoding="utf-8"), f"{token} missing from docs/host.md"


def test_no_secret_material_in_scripts() -> None:
    for name, step in all_scripts():
        assert "PRIVATE KEY" not in step.script, name


def test_host_defaults_live_in_config() -> None:
    """The seed 004 values and Docker's needs come from config/host_settings.py, not from templates."""
    host = HostConfig()
    settings = host.sysctl_settings()
    assert settings["net.ipv4.ip_forward"] == "1"
    assert settings["vm.swappiness"] == "10"
    assert host.fail2ban.maxretry == 3 and host.fail2ban.bantime_s == 3600
    assert host.docker.major == 28 and host.docker.log_max_size == "100m" and host.docker.log_max_file == 5
    with pytest.raises(ValueError, match="ip_forward must stay 1"):
        HostConfig(sysctl={"net.ipv4.ip_forward": "0"})
    with pytest.raises(ValueError, match="HH:MM"):
        HostConfig(reboot_window="3am")
    with pytest.raises(ValueError, match="IANA"):
        HostConfig(timezone="Mars/Olympus")
