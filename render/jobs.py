"""app.jobs as systemd units: a timer per job and a oneshot service that runs a one-off container of the
job's service (`docker compose run --rm --no-deps`, so the image, environment, secrets, networks and
volumes are the live release's) on the first server that runs that service.

Failures and timeouts reach the alert webhook through the ops step's `OnFailure=hp-alert@%n.service`;
the output goes to the journal (`journalctl -u hp-job-NAME`). The ops step installs these units.
"""

from __future__ import annotations

from config.app_jobs import JobConfig
from config.schema import StackConfig
from config.stack_views import placement_names
from spec.host_paths import DOCKER, DOCKER_CONFIG_DIR, current_release_dir
from spec.service_homes import service_homes

UNIT_PREFIX = "hp-job-"


def job_unit_name(name: str) -> str:
    return f"{UNIT_PREFIX}{name}"


def job_server(config: StackConfig, job: JobConfig) -> str | None:
    return service_homes(placement_names(config)).get(job.service)


def _systemd_word(word: str) -> str:
    """One ExecStart argument: double-quoted, with systemd's escapes for \\, ", % (specifiers) and $."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def _service_unit(config: StackConfig, name: str, job: JobConfig) -> str:
    project = config.ops.compose_project or config.project
    directory = config.ops.compose_dir or current_release_dir(config.project)
    container = job_unit_name(name)
    compose = [
        DOCKER, "compose", "--project-name", project, "--project-directory", directory,
        "--file", f"{directory}/docker-compose.yml", "--env-file", f"{directory}/.env",
        "run", "--rm", "--no-deps", "--no-TTY", "--name", container, job.service, *job.args,
    ]
    return "\n".join([
        "[Unit]",
        f"Description=hetzner-platform job {name}: {job.service} {' '.join(job.args)}"[:200].replace("%", "%%"),
        "Wants=network-online.target",
        "After=network-online.target docker.service",
        "Requires=docker.service",
        "OnFailure=hp-alert@%n.service",
        "",
        "[Service]",
        "Type=oneshot",
        f"Environment=DOCKER_CONFIG={DOCKER_CONFIG_DIR}",
        # A container left by a killed run (timeout, reboot) would block the fixed name.
        f"ExecStartPre=-{DOCKER} rm -f {container}",
        "ExecStart=" + " ".join(_systemd_word(word) for word in compose),
        f"ExecStopPost=-{DOCKER} rm -f {container}",
        f"TimeoutStartSec={job.timeout}",
        f"SyslogIdentifier={container}",
        "",
    ])


def _timer_unit(name: str, job: JobConfig) -> str:
    return "\n".join([
        "[Unit]",
        f"Description=hetzner-platform job {name} schedule",
        "",
        "[Timer]",
        f"OnCalendar={job.schedule}",
        "Persistent=true",
        "AccuracySec=1min",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ])


def job_units(config: StackConfig, server: str) -> dict[str, str]:
    """Unit file name -> content for the jobs that run on `server`."""
    units: dict[str, str] = {}
    for name, job in config.app.jobs.items():
        if job_server(config, job) != server:
            continue
        units[f"{job_unit_name(name)}.service"] = _service_unit(config, name, job)
        units[f"{job_unit_name(name)}.timer"] = _timer_unit(name, job)
    return units
