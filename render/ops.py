"""The ops step: backups, restore drills, cleanup, node exporter and small-box alerts.

Scripts are plain bash templates under render/templates/ops (one shared block, common.sh, is inlined
into each); every setting they need comes from /etc/hetzner-platform/ops.conf (rendered here from
the config, not secret) and /etc/hetzner-platform/ops.env (secrets, mode 0600). Both files use
`VAR=${VAR-value}`, so the environment wins: the tests run the very same scripts against a local
PostgreSQL, restic repository, fixtures and a loopback webhook by setting HP_* variables.

API used by the platform:
  ops_step(config, server, runtime, secrets) -> HostStep | None
  ops_files(config, server) -> {host path: content}   (secrets as placeholders)
  ops_secret_names(config) -> [secret names]
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping

from config.schema import StackConfig
from render.jobs import UNIT_PREFIX as JOB_UNIT_PREFIX
from render.ops_conf import TEMPLATE_DIR, ops_conf, ops_env, render_script, secret_placeholders, storagebox_ssh_config
from render.ops_monitoring import prometheus_files
from render.ops_units import ops_units
from render.ops_view import ops_view
from render.steps import HostRuntime, HostStep
from spec.host_paths import (
    ALL_UNITS,
    CONF_PATH,
    ENV_PATH,
    ETC_DIR,
    SBIN,
    SCRIPTS,
    STATE_DIR,
    STORAGEBOX_KEY_PATH,
    STORAGEBOX_SSH_CONFIG,
    TEXTFILE_DIR,
    UNIT_DIR,
)

# Modes of installed files; everything not listed is 0644.
MODE_EXEC = "0755"
MODE_SECRET = "0600"


# --- all files of one server ----------------------------------------------------------------------
def _render_files(config: StackConfig, server: str, runtime: HostRuntime, secrets: Mapping[str, str]) -> dict[str, str]:
    view = ops_view(config, server)
    files: dict[str, str] = {f"{SBIN}/{name}": render_script(name) for name in SCRIPTS}
    files[CONF_PATH] = ops_conf(view)
    files[ENV_PATH] = ops_env(view, secrets)
    for name, content in ops_units(view, runtime).items():
        files[f"{UNIT_DIR}/{name}"] = content
    offsite = config.ops.backup.offsite
    if view.offsite and offsite is not None and offsite.kind == "sftp":
        files[STORAGEBOX_SSH_CONFIG] = storagebox_ssh_config(offsite.repository)
        if "storageBoxSshKey" in secrets:
            key = secrets["storageBoxSshKey"]
            files[STORAGEBOX_KEY_PATH] = key if key.endswith("\n") else key + "\n"
    if view.prometheus:
        files.update(prometheus_files(view, runtime, secrets))
    return files


def file_mode(path: str) -> str:
    if path.startswith(f"{SBIN}/"):
        return MODE_EXEC
    if path in (ENV_PATH, STORAGEBOX_KEY_PATH) or path.endswith("/grafana.env"):
        return MODE_SECRET
    return "0644"


def ops_files(config: StackConfig, server: str) -> dict[str, str]:
    """Every file the ops step installs on `server`, secrets as `<secret NAME>` placeholders."""
    if not config.ops.enabled:
        return {}
    return _render_files(config, server, HostRuntime(), secret_placeholders(config))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# The step's own bash helpers (put_file, skip); a plain file so shellcheck reads it as it is.
STEP_PROLOGUE = (TEMPLATE_DIR / "step-prologue.sh").read_text(encoding="utf-8")


def _tool_lines() -> list[str]:
    """Install the tools the scripts need (restic for offsite, jq for the state file, curl for webhooks)."""
    lines: list[str] = []
    lines.append("# Tools the scripts need (restic for offsite, jq for the state file, curl for webhooks).")
    lines.append('if ! skip apt; then')
    lines.append("  missing=()")
    lines.append('  for tool in restic jq curl openssl flock; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done')
    lines.append('  if [ "${#missing[@]}" -gt 0 ]; then')
    lines.append("    apt-get update -qq >/dev/null")
    lines.append("    apt-get install -y -qq --no-install-recommends restic jq curl openssl util-linux >/dev/null")
    lines.append("    changed=$((changed + 1))")
    lines.append('    echo "hetzner-platform step=ops installed ${missing[*]}"')
    lines.append("  fi")
    lines.append("fi")
    return lines


def _stale_unit_lines(units: list[str]) -> list[str]:
    """Disable and remove the units (ops and app.jobs) this step installed earlier but no longer renders."""
    lines: list[str] = []
    stale = [unit for unit in ALL_UNITS if unit not in units]
    lines.append("# Units this step installed earlier but no longer renders.")
    for unit in stale:
        lines.append(f'if [ -e "$HP_ROOT{UNIT_DIR}/{unit}" ]; then')
        lines.append(f"  skip systemctl || systemctl disable --now {unit} >/dev/null 2>&1 || true")
        lines.append(f'  rm -f "$HP_ROOT{UNIT_DIR}/{unit}"; changed=$((changed + 1)); units_changed=1')
        lines.append(f'  echo "hetzner-platform step=ops removed {UNIT_DIR}/{unit}"')
        lines.append("fi")
    lines.append("# Job units (app.jobs) this step installed earlier that the config no longer has.")
    current_jobs = " ".join(unit for unit in units if unit.startswith(JOB_UNIT_PREFIX))
    lines.append(f"current_job_units={shlex.quote(f' {current_jobs} ')}")
    lines.append(f'for unit_path in "$HP_ROOT{UNIT_DIR}"/{JOB_UNIT_PREFIX}*.service "$HP_ROOT{UNIT_DIR}"/{JOB_UNIT_PREFIX}*.timer; do')
    lines.append('  [ -e "$unit_path" ] || continue')
    lines.append('  case "$current_job_units" in')
    lines.append('    *" ${unit_path##*/} "*) continue ;;')
    lines.append("  esac")
    lines.append('  skip systemctl || systemctl disable --now "${unit_path##*/}" >/dev/null 2>&1 || true')
    lines.append('  rm -f "$unit_path"; changed=$((changed + 1)); units_changed=1')
    lines.append('  echo "hetzner-platform step=ops removed ${unit_path#"$HP_ROOT"}"')
    lines.append("done")
    return lines


def _enable_lines(enable: list[str], services: list[str]) -> list[str]:
    """Reload systemd when units changed, enable the timers, start the exporter and monitoring services."""
    lines: list[str] = []
    lines.append("if ! skip systemctl; then")
    lines.append('  if [ "$units_changed" = 1 ]; then systemctl daemon-reload; fi')
    if enable:
        lines.append(f"  systemctl enable --now {' '.join(enable)}")
    if services:
        # Docker comes from the docker step; without it (a test host) enable only, never fail here.
        lines.append("  if systemctl cat docker.service >/dev/null 2>&1; then")
        lines.append(f"    systemctl enable --now {' '.join(services)}")
        if "hp-node-exporter.service" in services:
            lines.append('    if [ "$exporter_changed" = 1 ]; then systemctl restart hp-node-exporter.service; fi')
        lines.append("  else")
        lines.append(f"    systemctl enable {' '.join(services)}")
        lines.append('    echo "hetzner-platform step=ops note=docker.service missing, not starting node exporter"')
        lines.append("  fi")
    lines.append("fi")
    return lines


def ops_step(config: StackConfig, server: str, runtime: HostRuntime, secrets: Mapping[str, str]) -> HostStep | None:
    """The `ops` remote command for one server, or None when ops is disabled."""
    if not config.ops.enabled:
        return None
    files = _render_files(config, server, runtime, secrets)
    units = sorted(path.rsplit("/", 1)[1] for path in files if path.startswith(f"{UNIT_DIR}/"))
    enable = [unit for unit in units if unit.endswith(".timer")]
    services: list[str] = [unit for unit in ("hp-node-exporter.service", "hp-monitoring.service") if unit in units]
    lines = [STEP_PROLOGUE, *_tool_lines()]
    lines.append(f'install -d -m 0755 "$HP_ROOT{ETC_DIR}" "$HP_ROOT{TEXTFILE_DIR}"')
    lines.append(f'install -d -m 0700 "$HP_ROOT{STATE_DIR}" "$HP_ROOT{config.ops.backup.dir}"')
    lines.append(f'[ -e "$HP_ROOT{STATE_DIR}/installed" ] || touch "$HP_ROOT{STATE_DIR}/installed"')
    for path in sorted(files):
        lines.append(f"put_file {shlex.quote(path)} {file_mode(path)} {_b64(files[path])}")
    lines += _stale_unit_lines(units)
    lines += _enable_lines(enable, services)
    lines.append('echo "hetzner-platform step=ops changed=$changed"')
    script = "\n".join(lines) + "\n"
    return HostStep(name="ops", script=script, files=files)
