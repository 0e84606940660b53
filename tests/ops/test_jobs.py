"""app.jobs: the timer and service per job, checked by the real systemd-analyze (verify, calendar), the exact
`docker compose run` argv, failure alerts, and the ops step installing and removing job units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.errors import ConfigError
from config.loader import validate_config
from config.schema import StackConfig
from render.jobs import job_units
from render.ops import ops_files, ops_step
from render.steps import HostRuntime
from tests.systemd_verify import assert_calendar_parses, fake_root, verify

from .conftest import sample_config
from .test_render import SECRETS, _run_step

NIGHTLY = {"schedule": "*-*-* 03:00:00", "service": "api", "timeout": "45min",
           "command": "python manage.py clearsessions --verbosity '2' --note \"50% done $HOME\""}


def with_jobs(jobs: dict[str, Any], **ops: Any) -> StackConfig:
    values = sample_config(**ops).model_dump(by_alias=True, exclude_unset=True)
    values["app"]["jobs"] = jobs
    return StackConfig.model_validate(values)


def systemd_unquote(line: str) -> list[str]:
    """ExecStart= words as systemd reads them: double-quoted, \\\\ and \\" escaped, %% and $$ doubled."""
    words, current, quoted, index = [], "", False, 0
    while index < len(line):
        char = line[index]
        if char == "\\" and quoted:
            current += line[index + 1]
            index += 2
            continue
        if char == '"':
            if quoted:
                words.append(current.replace("%%", "%").replace("$$", "$"))
                current = ""
            quoted = not quoted
        elif quoted:
            current += char
        index += 1
    return words


def test_a_job_runs_a_one_off_container_of_its_service_with_the_exact_argv() -> None:
    units = job_units(with_jobs({"nightly": NIGHTLY}), "app")
    assert set(units) == {"hp-job-nightly.service", "hp-job-nightly.timer"}
    service = units["hp-job-nightly.service"]
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert systemd_unquote(exec_start.removeprefix("ExecStart=")) == [
        "/usr/bin/docker", "compose", "--project-name", "chrono", "--project-directory", "/opt/chrono/current",
        "--file", "/opt/chrono/current/docker-compose.yml", "--env-file", "/opt/chrono/current/.env",
        "run", "--rm", "--no-deps", "--no-TTY", "--name", "hp-job-nightly", "api",
        "python", "manage.py", "clearsessions", "--verbosity", "2", "--note", '50% done $HOME',
    ]
    assert "OnFailure=hp-alert@%n.service" in service and "TimeoutStartSec=45min" in service
    assert "Environment=DOCKER_CONFIG=/root/.docker" in service
    assert "OnCalendar=*-*-* 03:00:00" in units["hp-job-nightly.timer"]


def test_job_units_pass_systemd_analyze_verify_and_calendar(tmp_path: Path) -> None:
    root = tmp_path / "root"
    files = ops_files(with_jobs({"nightly": NIGHTLY, "weekly-report": {
        "schedule": "Mon *-*-* 06:00:00", "service": "worker", "command": ["celery", "-A", "app", "call", "report"]}}), "app")
    units = [path for path in fake_root(root, files) if path.startswith("/etc/systemd/system/hp-job-")]
    assert len(units) == 4
    units.append("/etc/systemd/system/hp-alert@hp-job-nightly.service.service")  # the failure alert
    returncode, output = verify(root, units)
    assert returncode == 0 and output == "", output
    for calendar in ("*-*-* 03:00:00", "Mon *-*-* 06:00:00"):
        assert_calendar_parses(calendar)
    broken = root / "etc/systemd/system/hp-job-nightly.service"
    broken.write_text(broken.read_text().replace("Type=oneshot", "Type=oneshoot"))
    returncode, output = verify(root, units[:1])
    assert returncode != 0 or "oneshoot" in output


def test_the_ops_step_installs_enables_and_removes_job_units(tmp_path: Path) -> None:
    step = ops_step(with_jobs({"nightly": NIGHTLY}), "app", HostRuntime(), SECRETS)
    assert step is not None and "hp-job-nightly.timer" in step.script.split("systemctl enable --now", 1)[1].splitlines()[0]
    first = _run_step(step, tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "etc/systemd/system/hp-job-nightly.timer").is_file()
    without = ops_step(sample_config(), "app", HostRuntime(), SECRETS)
    assert without is not None
    second = _run_step(without, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "removed /etc/systemd/system/hp-job-nightly.service" in second.stdout
    assert not (tmp_path / "etc/systemd/system/hp-job-nightly.timer").exists()


def test_jobs_run_where_their_service_runs() -> None:
    config = with_jobs({"report": {"schedule": "daily", "service": "worker", "command": "report"}})
    assert job_units(config, "app")  # one server: it runs everything


@pytest.mark.parametrize(("job", "ops", "path", "reason"), [
    ({"schedule": "*-*-* 03:00:00", "service": "nope", "command": "x"}, {}, "app.jobs.nightly.service", "no service named"),
    ({"schedule": "nightly at 3!", "service": "api", "command": "x"}, {}, "app.jobs.nightly.schedule", "OnCalendar"),
    ({"schedule": "daily", "service": "api", "command": "x", "timeout": "1 hour"}, {}, "app.jobs.nightly.timeout", "time span"),
    ({"schedule": "daily", "service": "api", "command": "'unclosed"}, {}, "app.jobs.nightly.command", "split"),
    ({"schedule": "daily", "service": "api", "command": "x"}, {"alerts": {"enabled": False}}, "app.jobs", "ops.alerts.enabled"),
])
def test_bad_jobs_name_the_field(job: dict[str, Any], ops: dict[str, Any], path: str, reason: str) -> None:
    values = sample_config(**ops).model_dump(by_alias=True, exclude_unset=True)
    values["app"]["jobs"] = {"nightly": job}
    with pytest.raises(ConfigError) as caught:
        validate_config(values)
    issues = {issue.path: issue.reason for issue in caught.value.issues}
    assert path in issues and reason in issues[path], issues
