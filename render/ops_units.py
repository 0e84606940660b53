"""The systemd units of the ops step: a oneshot service and a timer per task, the failure alert template,
the node exporter and the monitoring preset."""

from __future__ import annotations

from pathlib import Path

from render.host_script import fill_text
from render.jobs import job_units
from render.ops_view import OpsView
from render.steps import HostRuntime
from spec.host_paths import DOCKER, MONITORING_DIR, SBIN, TEXTFILE_DIR, UNIT_DIR

OPS_TEMPLATES = Path(__file__).resolve().parent / "templates" / "ops"
# A unit installed under its template's name sits at its host path; these two are the shapes many units
# share (each ops task, each app job), kept in units/.
UNIT_TEMPLATES = OPS_TEMPLATES / "rootfs" / UNIT_DIR.lstrip("/")
SHARED_UNIT_TEMPLATES = OPS_TEMPLATES / "units"
SHARED_UNITS = ("oneshot.service", "task.timer")


def unit_file(name: str, **values: str) -> str:
    """Unit template `name` with its `{{key}}` placeholders filled (render/host_script.py's rules); a line
    holding only a placeholder whose value is empty is left out, so optional settings need no blank line."""
    left_out = {f"{{{{{key}}}}}" for key, value in values.items() if not value}
    template = (SHARED_UNIT_TEMPLATES if name in SHARED_UNITS else UNIT_TEMPLATES) / name
    lines = template.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = "".join(line for line in lines if line.strip() not in left_out)
    return fill_text(kept, name, **{key: value for key, value in values.items() if value})


def _oneshot(description: str, exec_start: str, *, identifier: str, timeout: str, on_failure: bool = True,
             docker: bool = False, low_priority: bool = True) -> str:
    return unit_file(
        "oneshot.service", description=description, exec_start=exec_start, identifier=identifier, timeout=timeout,
        after="network-online.target docker.service" if docker else "network-online.target",
        on_failure="OnFailure=hp-alert@%n.service" if on_failure else "",
        low_priority="Nice=10\nIOSchedulingClass=best-effort\nIOSchedulingPriority=7" if low_priority else "",
    )


def _timer(description: str, calendar: str, randomized: str = "60") -> str:
    return unit_file("task.timer", description=description, calendar=calendar, randomized=randomized)


def _node_exporter_unit(view: OpsView, runtime: HostRuntime) -> str:
    exporter = view.ops.monitoring.node_exporter
    address = view.node_exporter_address(runtime)
    args = " ".join([
        f"{DOCKER} run --rm --name hp-node-exporter --network host --pid host",
        "--memory 64m --cpus 0.2 --read-only --security-opt no-new-privileges",
        "-v /:/host:ro,rslave",
        exporter.image,
        "--path.rootfs=/host",
        f"--web.listen-address={address}",
        f"--collector.textfile.directory=/host{TEXTFILE_DIR}",
        "--no-collector.wifi --no-collector.hwmon",
    ])
    return unit_file("hp-node-exporter.service", address=address, docker=DOCKER, exec_start=args)


def _monitoring_unit() -> str:
    return unit_file("hp-monitoring.service", compose=f"{DOCKER} compose -f {MONITORING_DIR}/compose.yaml")


def ops_units(view: OpsView, runtime: HostRuntime) -> dict[str, str]:
    """Unit file name -> content for this server."""
    ops = view.ops
    units: dict[str, str] = {}
    units["hp-alert@.service"] = unit_file("hp-alert@.service", sbin=SBIN)
    if view.backups:
        if ops.backup.hourly:
            units["hp-backup-hourly.service"] = _oneshot(
                "Hourly database backup (hetzner-platform)", f"{SBIN}/hp-backup hourly",
                identifier="hp-backup", timeout="50min", docker=True)
            units["hp-backup-hourly.timer"] = _timer("Hourly database backup", ops.backup.hourly_calendar)
        units["hp-backup-daily.service"] = _oneshot(
            "Daily backup: databases, Redis, files, configs, offsite (hetzner-platform)", f"{SBIN}/hp-backup daily",
            identifier="hp-backup", timeout="6h", docker=True)
        units["hp-backup-daily.timer"] = _timer("Daily backup", ops.backup.daily_calendar, randomized="300")
    if view.drill:
        units["hp-restore-drill.service"] = _oneshot(
            "Restore drill: newest dump into a throwaway PostgreSQL (hetzner-platform)", f"{SBIN}/hp-restore-drill",
            identifier="hp-restore-drill", timeout="2h", docker=True)
        units["hp-restore-drill.timer"] = _timer("Restore drill", ops.drill.calendar, randomized="300")
    if view.cleanup:
        units["hp-cleanup.service"] = _oneshot(
            "Delete old temporary files and logs, prune unused Docker data (hetzner-platform)", f"{SBIN}/hp-cleanup",
            identifier="hp-cleanup", timeout="1h", docker=True)
        units["hp-cleanup.timer"] = _timer("Cleanup of temporary files, logs and Docker data", ops.cleanup.calendar,
                                           randomized="300")
    if view.alerts:
        units["hp-alert-check.service"] = _oneshot(
            "Small-box alert check: disk, memory, services, backups, TLS (hetzner-platform)", f"{SBIN}/hp-alert-check",
            identifier="hp-alert-check", timeout="4min", low_priority=False)
        units["hp-alert-check.timer"] = _timer("Alert check", ops.alerts.calendar, randomized="20")
    if view.node_exporter:
        units["hp-node-exporter.service"] = _node_exporter_unit(view, runtime)
    if view.prometheus:
        units["hp-monitoring.service"] = _monitoring_unit()
    units.update(job_units(view.config, view.server))
    return units
