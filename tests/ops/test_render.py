"""The rendered ops files: API, settings, secrets, shellcheck, systemd-analyze, the step itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from config.schema import StackConfig
from render.ops import ops_files, ops_step
from render.ops_conf import ops_secret_names, render_script
from render.ops_view import is_postgres_image, is_redis_image, ops_view
from render.steps import HostRuntime, HostStep
from spec.host_paths import ALL_UNITS, CONF_PATH, ENV_PATH, SCRIPTS
from tests.prerequisites import require_tool
from tests.systemd_verify import assert_calendar_parses, fake_root, verify

from .conftest import sample_config

SECRETS = {
    "alertWebhookUrl": "https://hooks.slack.example/services/T000/B000/SUPERSECRETTOKEN",
    "resticPassword": "restic-pw-S3CRET-value",
    "s3AccessKey": "AKIA-TEST-ACCESS",
    "s3SecretKey": "s3-secret-key-VALUE",
}
S3 = {"backup": {"offsite": {"repository": "s3:https://fsn1.your-objectstorage.com/chrono-backups/prod"}}}


def _multi_server() -> StackConfig:
    base = sample_config(**S3).model_dump(by_alias=True, exclude_none=True)
    base["servers"] = {
        "web": {"serverType": "cx33", "roles": ["web", "worker"]},
        "db": {"serverType": "cx33", "roles": ["db"]},
    }
    base["network"] = {}
    return StackConfig.model_validate(base)


# --- API and config -----------------------------------------------------------------------------
def test_api_shapes_and_secret_names() -> None:
    config = sample_config(**S3)
    assert ops_secret_names(config) == ["alertWebhookUrl", "resticPassword", "s3AccessKey", "s3SecretKey"]
    sftp = sample_config(backup={"offsite": {"repository": "sftp://u1@u1.your-storagebox.de:23//prod"}})
    assert ops_secret_names(sftp) == ["alertWebhookUrl", "resticPassword", "storageBoxSshKey"]
    assert ops_secret_names(sample_config(enabled=False)) == []
    step = ops_step(config, "app", HostRuntime(), SECRETS)
    assert isinstance(step, HostStep) and step.name == "ops"
    assert ops_step(sample_config(enabled=False), "app", HostRuntime(), {}) is None
    assert ops_files(sample_config(enabled=False), "app") == {}
    files = ops_files(config, "app")
    assert set(step.files) == set(files)
    assert "<secret resticPassword>" in files[ENV_PATH]
    assert not any(value in content for content in files.values() for value in SECRETS.values())


def test_defaults_follow_the_seeds() -> None:
    ops = sample_config().ops
    assert (ops.backup.retention.daily, ops.backup.retention.weekly, ops.backup.retention.hourly_hours) == (7, 4, 24)
    assert (ops.alerts.disk_percent, ops.alerts.memory_percent, ops.rpo_minutes, ops.alerts.cert_days) == (90, 90, 60, 14)
    assert ops.backup.hourly and ops.alerts.calendar == "*:0/5"
    assert ops.cleanup.rules[0].path == "/var/log" and ops.cleanup.rules[0].max_age_days == 30


@pytest.mark.parametrize(
    ("ops", "path"),
    [
        ({"backup": {"offsite": {"repository": "ftp://nope"}}}, "backup.offsite.repository"),
        ({"backup": {"postgres": {"databases": ["app; drop"]}}}, "backup.postgres.databases"),
        ({"drill": {"tables": ["users; delete"]}}, "drill.tables"),
        ({"cleanup": {"rules": [{"path": "/etc", "maxAgeDays": 3}]}}, "cleanup.rules.0.path"),
        ({"cleanup": {"rules": [{"path": "relative", "maxAgeDays": 3}]}}, "cleanup.rules.0.path"),
        ({"alerts": {"webhook": "telegram"}}, "alerts"),
        ({"alerts": {"diskPercent": 0}}, "alerts.diskPercent"),
        ({"backup": {"dailyCalendar": "nightly; rm -rf /"}}, "backup.dailyCalendar"),
        ({"bakup": {}}, "bakup"),
    ],
)
def test_bad_ops_config_is_rejected_with_its_path(ops: dict, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        sample_config(**ops)
    locations = [".".join(str(part) for part in error["loc"]) for error in info.value.errors()]
    assert any(location.startswith(f"ops.{path}") for location in locations), locations


def test_image_detection() -> None:
    assert is_postgres_image("postgres:16-alpine") and is_postgres_image("docker.io/library/postgres:15")
    assert is_postgres_image("pgvector/pgvector:pg16") and not is_postgres_image("ghcr.io/x/api:1")
    assert is_redis_image("redis:7-alpine") and not is_redis_image("postgres:16")


def test_roles_decide_what_runs_where() -> None:
    config = _multi_server()
    web = ops_files(config, "web")
    db = ops_files(config, "db")
    assert not any("hp-backup" in path or "hp-restore-drill" in path for path in web if path.startswith("/etc/systemd/"))
    assert "/etc/systemd/system/hp-backup-daily.timer" in db and "/etc/systemd/system/hp-restore-drill.timer" in db
    for files in (web, db):
        assert "/etc/systemd/system/hp-alert-check.timer" in files
        assert "/etc/systemd/system/hp-node-exporter.service" in files
    web_conf, db_conf = web[CONF_PATH], db[CONF_PATH]
    assert "HP_CHECK_BACKUP=${HP_CHECK_BACKUP-0}" in web_conf and "HP_CHECK_BACKUP=${HP_CHECK_BACKUP-1}" in db_conf
    assert "HP_EXPECTED_SERVICES=${HP_EXPECTED_SERVICES-'api worker'}" in web_conf
    assert "HP_EXPECTED_SERVICES=${HP_EXPECTED_SERVICES-'postgres redis'}" in db_conf
    # No service is exposed here, so no proxy holds a certificate: no TLS check (issue 19: the DNS records
    # alone used to be watched, each alerting on a certificate nothing serves).
    assert "HP_TLS_DOMAINS=${HP_TLS_DOMAINS-''}" in web_conf
    assert "HP_TLS_DOMAINS=${HP_TLS_DOMAINS-''}" in db_conf
    # Offsite secrets only on the server that backs up.
    assert "RESTIC_PASSWORD" not in ops_step(config, "web", HostRuntime(), SECRETS).files[ENV_PATH]  # type: ignore[union-attr]
    assert "RESTIC_PASSWORD" in ops_step(config, "db", HostRuntime(), SECRETS).files[ENV_PATH]  # type: ignore[union-attr]


def test_conf_drives_the_commands_on_the_host() -> None:
    conf = ops_files(sample_config(**S3), "app")[CONF_PATH]
    live = "/opt/chrono/current"
    compose = (f"docker compose --project-name chrono --project-directory {live} --file {live}/docker-compose.yml "
               f"--env-file {live}/.env")
    assert f"HP_PG_EXEC=${{HP_PG_EXEC-'{compose} exec -T postgres'}}" in conf
    assert "HP_DRILL_IMAGE=${HP_DRILL_IMAGE-postgres:15-alpine}" in conf
    assert "HP_APP_SERVICES=${HP_APP_SERVICES-'api worker'}" in conf
    assert "HP_RESTIC_REPOSITORY=${HP_RESTIC_REPOSITORY-s3:https://fsn1.your-objectstorage.com/chrono-backups/prod}" in conf


def test_dump_role_follows_postgres_user() -> None:
    conf = ops_files(sample_config(), "app")[CONF_PATH]
    assert "HP_PG_ARGS=${HP_PG_ARGS-'-U postgres'}" in conf
    values = sample_config().model_dump(by_alias=True, exclude_none=True)
    values["app"]["services"]["postgres"]["environment"] = {"POSTGRES_USER": "chrono", "POSTGRES_DB": "chrono"}
    conf = ops_files(StackConfig.model_validate(values), "app")[CONF_PATH]
    assert "HP_PG_ARGS=${HP_PG_ARGS-'-U chrono'}" in conf
    values["ops"] = {"backup": {"postgres": {"user": "backup"}}}
    conf = ops_files(StackConfig.model_validate(values), "app")[CONF_PATH]
    assert "HP_PG_ARGS=${HP_PG_ARGS-'-U backup'}" in conf


def test_conf_values_round_trip_through_bash(tmp_path: Path) -> None:
    """Quotes, spaces, $, } and newlines in settings arrive intact; the environment still wins."""
    config = sample_config(drill={"sql": "SELECT '}' || $$x$$ AS \"a b\";\nSELECT 2", "tables": ["users"]},
                           cleanup={"rules": [{"path": "/app/media/user_*/video", "maxAgeDays": 7},
                                              {"path": "/var/log", "pattern": "*.log", "maxAgeDays": 30}]})
    conf = tmp_path / "ops.conf"
    conf.write_text(ops_files(config, "app")[CONF_PATH])
    script = f'. {conf}; printf "%s\\n--\\n%s\\n--\\n%s" "$HP_DRILL_SQL" "$HP_CLEANUP_RULES" "$HP_PG_EXEC"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                         env={"PATH": os.environ["PATH"], "HP_PG_EXEC": ""}).stdout
    sql, rules, pg_exec = out.split("\n--\n")
    assert sql == "SELECT '}' || $$x$$ AS \"a b\";\nSELECT 2"
    assert rules == "7|*|/app/media/user_*/video\n30|*.log|/var/log"
    assert pg_exec == ""


def test_docker_prune_never_touches_volumes() -> None:
    """`docker system prune --volumes` deletes the database volume of a stopped stack (caprover#98)."""
    for config in (sample_config(), _multi_server()):
        for server in config.servers:
            step = ops_step(config, server, HostRuntime(), SECRETS)
            assert step is not None
            for text in [step.script, *step.files.values()]:
                assert "--volumes" not in text
                assert not re.search(r"prune[^\n]*\s-a\b|volume\s+prune", text)
    assert "system prune -f" in render_script("hp-cleanup")


def test_node_exporter_is_never_public() -> None:
    config = sample_config(monitoring={"nodeExporter": {"listen": "private"}})
    unit = ops_files(config, "app")["/etc/systemd/system/hp-node-exporter.service"]
    assert "--web.listen-address=127.0.0.1:9100" in unit  # no private IP known: loopback
    step = ops_step(config, "app", HostRuntime(private_ip="10.0.1.2"), {})
    assert step is not None
    assert "--web.listen-address=10.0.1.2:9100" in step.files["/etc/systemd/system/hp-node-exporter.service"]
    assert "0.0.0.0" not in "".join(step.files.values())


# --- static checks of every script and unit -------------------------------------------------------
def assert_bash_n_and_shellcheck_pass(path: Path, script: str) -> None:
    require_tool("shellcheck")
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)
    result = subprocess.run(["shellcheck", "-s", "bash", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_pass_bash_n_and_shellcheck(name: str, tmp_path: Path) -> None:
    assert_bash_n_and_shellcheck_pass(tmp_path / name, render_script(name))


@pytest.mark.parametrize("server", ["app", "web", "db"])
def test_step_script_passes_bash_n_and_shellcheck(server: str, tmp_path: Path) -> None:
    config = sample_config(**S3) if server == "app" else _multi_server()
    step = ops_step(config, server, HostRuntime(), SECRETS)
    assert step is not None
    assert_bash_n_and_shellcheck_pass(tmp_path / "step.sh", step.script)


def _full_config() -> StackConfig:
    return sample_config(
        backup={"offsite": {"repository": "sftp://u1@u1.your-storagebox.de:23//prod"}},
        monitoring={"prometheus": {"enabled": True, "extraTargets": {"api": "127.0.0.1:8080"}}},
        cleanup={"rules": [{"path": "/app/media/user_*/video", "maxAgeDays": 7}]},
    )


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    root = tmp_path / "root"
    written = fake_root(root, ops_files(_full_config(), "app"))
    units = [path for path in written if path.startswith("/etc/systemd/system/") and "@." not in path]
    # The OnFailure= template is checked through an instance.
    units.append("/etc/systemd/system/hp-alert@hp-backup-daily.service.service")
    assert len(units) >= 12
    returncode, output = verify(root, units)
    assert returncode == 0 and output == "", output


def test_every_calendar_parses() -> None:
    files = ops_files(_full_config(), "app")
    calendars = sorted({line.split("=", 1)[1] for content in files.values() for line in content.splitlines()
                        if line.startswith("OnCalendar=")})
    assert len(calendars) == 5
    for calendar in calendars:
        assert_calendar_parses(calendar)
    with pytest.raises(ValidationError):
        sample_config(alerts={"calendar": "every five minutes!"})


def test_prometheus_preset_files() -> None:
    files = ops_files(_full_config(), "app")
    prometheus = yaml.safe_load(files["/etc/hetzner-platform/monitoring/prometheus.yml"])
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]}
    assert targets == {"prometheus": ["127.0.0.1:9090"], "node": ["127.0.0.1:9100"], "docker": ["127.0.0.1:9323"],
                       "api": ["127.0.0.1:8080"]}
    rules = yaml.safe_load(files["/etc/hetzner-platform/monitoring/alerts.yml"])
    names = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert {"HighErrorRate", "HighAPILatency", "DiskSpaceLow", "BackupTooOld", "RestoreDrillFailed"} <= set(names)
    for group in rules["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["expr"].strip() and re.match(r"^\d+[smh]$", rule["for"])
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["expr"].count("(") == rule["expr"].count(")")
    compose = yaml.safe_load(files["/etc/hetzner-platform/monitoring/compose.yaml"])
    assert "127.0.0.1:9090" in " ".join(compose["services"]["prometheus"]["command"])
    assert compose["services"]["grafana"]["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert not any("ports" in service for service in compose["services"].values())
    promtool = shutil.which("promtool")
    if promtool:
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".yml") as handle:
            handle.write(files["/etc/hetzner-platform/monitoring/alerts.yml"])
            handle.flush()
            subprocess.run([promtool, "check", "rules", handle.name], check=True, capture_output=True)
    # Only the first server carries the preset.
    config = _multi_server().model_copy(update={"ops": _full_config().ops})
    assert not any("monitoring/" in path for path in ops_files(config, "db"))


# --- the step itself, in a fake root ---------------------------------------------------------
def _run_step(step: HostStep, root: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HP_ROOT": str(root), "HP_SKIP": "systemctl,apt"}
    return subprocess.run(["bash", "-s"], input=step.script, env=env, capture_output=True, text=True, timeout=120)


def test_step_is_idempotent_quiet_about_secrets_and_sets_modes(tmp_path: Path) -> None:
    config = sample_config(**S3)
    step = ops_step(config, "app", HostRuntime(), SECRETS)
    assert step is not None
    first = _run_step(step, tmp_path)
    assert first.returncode == 0, first.stderr
    last = first.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"hetzner-platform step=ops changed=\d+", last)
    assert int(last.rsplit("=", 1)[1]) == len(step.files)
    for value in SECRETS.values():
        assert value not in first.stdout + first.stderr
    env_file = tmp_path / ENV_PATH.lstrip("/")
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert SECRETS["resticPassword"] in env_file.read_text()
    assert oct((tmp_path / "usr/local/sbin/hp-backup").stat().st_mode & 0o777) == "0o755"
    assert oct((tmp_path / "var/lib/hetzner-platform").stat().st_mode & 0o777) == "0o700"
    for path, content in step.files.items():
        assert (tmp_path / path.lstrip("/")).read_text() == content
    second = _run_step(step, tmp_path)
    assert second.returncode == 0 and second.stdout.strip().splitlines() == ["hetzner-platform step=ops changed=0"]
    # A mode drift is repaired; a unit no longer rendered is removed.
    env_file.chmod(0o644)
    smaller = ops_step(sample_config(**S3, drill={"enabled": False}), "app", HostRuntime(), SECRETS)
    assert smaller is not None
    third = _run_step(smaller, tmp_path)
    assert third.returncode == 0, third.stderr
    assert "removed /etc/systemd/system/hp-restore-drill.timer" in third.stdout
    assert third.stdout.strip().endswith("changed=4")  # env mode, conf, drill .service and .timer
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "etc/systemd/system/hp-restore-drill.timer").exists()


def test_step_enables_every_timer() -> None:
    step = ops_step(sample_config(**S3), "app", HostRuntime(), SECRETS)
    assert step is not None
    enable = [line.split() for line in step.script.splitlines() if "systemctl enable --now" in line]
    timers = {unit for unit in ALL_UNITS if unit.endswith(".timer")}
    assert timers <= set(enable[0])
    assert "hp-node-exporter.service" in enable[1]
    # Every job reports its failure through the alert sender.
    for path, content in step.files.items():
        if path.endswith(".service") and "/hp-" in path and "hp-alert@" not in path and "exporter" not in path:
            assert "OnFailure=hp-alert@%n.service" in content, path
    assert "skip systemctl" in step.script


def test_view_of_a_stack_without_database() -> None:
    config = sample_config(backup={"postgres": {"enabled": False}})
    view = ops_view(config, "app")
    assert not view.pg_backups and not view.drill and view.redis_backups
    files = ops_files(config, "app")
    assert "/etc/systemd/system/hp-restore-drill.timer" not in files
    assert "/etc/systemd/system/hp-backup-daily.timer" in files


def test_tls_alerts_watch_the_names_the_proxy_serves() -> None:
    """Every host of expose.hosts and every redirect source, on the server running the proxy only."""
    values = sample_config().model_dump(by_alias=True, exclude_unset=True)
    values["app"]["services"]["api"]["expose"] = {"port": 8000, "hosts": ["@", "api"]}
    values["app"]["acmeEmail"] = "ops@chrono.example.com"
    values["app"]["redirects"] = [{"from": "www", "to": "@"}]
    values["dns"]["records"].append({"name": "www"})
    config = StackConfig.model_validate(values)
    conf = ops_files(config, "app")[CONF_PATH]
    assert "HP_TLS_DOMAINS=${HP_TLS_DOMAINS-'chrono.example.com api.chrono.example.com www.chrono.example.com'}" in conf
