"""spec/host_paths.py is the one home of the platform's paths on a host: the renderers import them, and the
bash templates receive them as HP_* values (host steps) or from the block render/ops_conf.py inserts (ops
scripts), so no template spells one."""

from __future__ import annotations

from pathlib import Path

from config.loader import validate_config
from render.host_steps import host_steps
from render.ops_conf import ops_conf, render_script
from render.ops_view import ops_view
from render.steps import HostRuntime
from spec import host_paths
from spec.resources import resolve
from tests.stacks import PROD

TEMPLATES = Path(__file__).resolve().parents[2] / "render" / "templates"
# Where a template may name a path: PATH lists the standard sbin directory (not because scripts live there).
ALLOWED = {("host/lib.sh", "/usr/local/sbin")}


def host_path_values() -> dict[str, str]:
    return {name: value for name, value in vars(host_paths).items() if name.isupper() and isinstance(value, str) and value.startswith("/")}


def code_lines(text: str) -> list[str]:
    """The lines that are not comments: a comment may say where a file goes."""
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


def test_no_template_spells_a_host_path() -> None:
    spelled = [
        f"{template.relative_to(TEMPLATES)}: {name} {value}"
        for template in sorted(TEMPLATES.rglob("*"))
        if template.is_file()
        for name, value in host_path_values().items()
        if (str(template.relative_to(TEMPLATES)), value) not in ALLOWED
        and any(value in line for line in code_lines(template.read_text(encoding="utf-8")))
    ]
    assert not spelled, spelled


def test_the_check_sees_a_spelled_path(tmp_path: Path) -> None:
    """The check above looks at code lines: a path in code is found, the same path in a comment is not."""
    text = f"# goes to {host_paths.SYSCTL_FILE}\nhp_install_file {host_paths.SYSCTL_FILE}\n"
    assert [line for line in code_lines(text) if host_paths.SYSCTL_FILE in line] == [f"hp_install_file {host_paths.SYSCTL_FILE}"]


def test_each_file_template_sits_at_its_host_path() -> None:
    """render/templates/host/rootfs mirrors the host: each template there is a file spec/host_paths.py names."""
    rootfs = TEMPLATES / "host" / "rootfs"
    templates = {"/" + str(path.relative_to(rootfs)) for path in rootfs.rglob("*") if path.is_file()}
    assert len(templates) >= 19
    assert templates <= set(host_path_values().values()), templates - set(host_path_values().values())


def test_each_ops_template_sits_at_its_host_path() -> None:
    """render/templates/ops/rootfs mirrors the host too: the scripts in SBIN, the units in UNIT_DIR, the alert
    rules in MONITORING_DIR, and every script the ops step installs has its template there."""
    rootfs = TEMPLATES / "ops" / "rootfs"
    templates = {"/" + str(path.relative_to(rootfs)) for path in rootfs.rglob("*") if path.is_file()}
    directories = {host_paths.SBIN, host_paths.UNIT_DIR, host_paths.MONITORING_DIR}
    assert {template.rsplit("/", 1)[0] for template in templates} == directories
    assert {f"{host_paths.SBIN}/{name}" for name in host_paths.SCRIPTS} <= templates


def test_each_step_receives_the_paths_of_the_files_it_installs() -> None:
    """Every file a host step installs is named in its values, so its template can refer to it."""
    config = validate_config(PROD)
    server = next(iter(config.servers))
    steps = host_steps(config, resolve(config), server, HostRuntime())
    checked = 0
    for step in steps:
        values = step.script.split("# ---- values rendered from the stack config", 1)[1].split("# ---- files this step installs", 1)[0]
        for path in step.files:
            if path in host_path_values().values():
                assert path in values, f"step {step.name}: {path} is embedded but not handed to the script"
                checked += 1
    assert checked >= 10


def test_ops_scripts_get_their_paths_from_the_inserted_block() -> None:
    script = render_script("hp-alert-check")
    assert f"HP_CONF=${{HP_CONF-{host_paths.CONF_PATH}}}" in script
    assert f"HP_DEFAULT_STATE_DIR={host_paths.STATE_DIR}" in script


def test_ops_conf_hands_the_paths_to_the_scripts() -> None:
    """The ops scripts read their paths from ops.conf, rendered from spec/host_paths.py."""
    config = validate_config(PROD)
    conf = ops_conf(ops_view(config, next(iter(config.servers))))
    assert host_paths.STATE_FILE in conf
    assert host_paths.current_release_dir(config.project) in conf
