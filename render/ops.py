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
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

import config.app as app_config
from config.ops import OpsConfig
from config.path_checks import releases_dir
from config.schema import StackConfig
from render.blue_green import LIVE_COLOUR_STATE, blue_green_services
from render.jobs import UNIT_PREFIX as JOB_UNIT_PREFIX
from render.jobs import job_units
from render.steps import HostRuntime, HostStep
from spec.ports import GRAFANA_PORT, PROMETHEUS_PORT

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "ops"
SBIN = "/usr/local/sbin"
UNIT_DIR = "/etc/systemd/system"
ETC_DIR = "/etc/hetzner-platform"
CONF_PATH = f"{ETC_DIR}/ops.conf"
ENV_PATH = f"{ETC_DIR}/ops.env"
STORAGEBOX_KEY_PATH = f"{ETC_DIR}/storagebox_ed25519"
STORAGEBOX_SSH_CONFIG = f"{ETC_DIR}/storagebox_ssh_config"
MONITORING_DIR = f"{ETC_DIR}/monitoring"
STATE_DIR = "/var/lib/hetzner-platform"
STATE_FILE = f"{STATE_DIR}/backup-state.json"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
DOCKER = "/usr/bin/docker"

SCRIPTS = ("hp-pg", "hp-backup", "hp-restore-drill", "hp-restore", "hp-cleanup", "hp-alert-check", "hp-alert-send")
TIMER_UNITS = ("hp-backup-hourly", "hp-backup-daily", "hp-restore-drill", "hp-cleanup", "hp-alert-check")
# Every unit this step may ever install: ones no longer rendered are disabled and removed.
ALL_UNITS = (
    *(f"{name}.{suffix}" for name in TIMER_UNITS for suffix in ("service", "timer")),
    "hp-alert@.service",
    "hp-node-exporter.service",
    "hp-monitoring.service",
)
SECRET_PLACEHOLDER = "<secret {name}>"
DRILL_CONTAINER = "hp-restore-drill"

# Modes of installed files; everything not listed is 0644.
MODE_EXEC = "0755"
MODE_SECRET = "0600"


def _image_name(image: str) -> str:
    """`docker.io/library/postgres:16-alpine` -> `postgres`; `pgvector/pgvector:pg16` -> `pgvector/pgvector`."""
    name = image.split("@", 1)[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts and parts[0] == "library":
        parts = parts[1:]
    last = parts[-1].split(":", 1)[0] if parts else ""
    return "/".join([*parts[:-1], last])


def is_postgres_image(image: str) -> bool:
    name = _image_name(image)
    return name.split("/")[-1].startswith("postgres") or name == "pgvector/pgvector"


def is_redis_image(image: str) -> bool:
    return _image_name(image).split("/")[-1].startswith("redis")


@dataclass(frozen=True)
class OpsView:
    """What the ops layer does on one server, resolved from the config."""

    config: StackConfig
    server: str
    roles: tuple[str, ...]
    services_here: tuple[str, ...]
    pg_service: str | None
    pg_image: str | None
    pg_user: str
    redis_service: str | None
    compose_project: str
    compose_dir: str

    @property
    def ops(self) -> OpsConfig:
        return self.config.ops

    @property
    def backups(self) -> bool:
        return self.ops.backup.enabled and "db" in self.roles

    @property
    def pg_backups(self) -> bool:
        return self.backups and self.ops.backup.postgres.enabled and self.pg_service is not None

    @property
    def redis_backups(self) -> bool:
        return self.backups and self.ops.backup.redis.enabled and self.redis_service is not None

    @property
    def drill(self) -> bool:
        return self.pg_backups and self.ops.drill.enabled

    @property
    def offsite(self) -> bool:
        return self.backups and self.ops.backup.offsite is not None

    @property
    def alerts(self) -> bool:
        return self.ops.alerts.enabled

    @property
    def cleanup(self) -> bool:
        return self.ops.cleanup.enabled

    @property
    def node_exporter(self) -> bool:
        return self.ops.monitoring.node_exporter.enabled

    @property
    def prometheus(self) -> bool:
        # The optional preset runs once, on the first server of the stack.
        return self.ops.monitoring.prometheus.enabled and self.server == next(iter(self.config.servers))

    @property
    def compose(self) -> str:
        directory = self.compose_dir
        return (f"docker compose --project-name {self.compose_project} --project-directory {directory} "
                f"--file {directory}/docker-compose.yml --env-file {directory}/.env")

    @property
    def backup_configs(self) -> list[str]:
        configured = self.ops.backup.configs
        if configured is not None:
            return configured
        return [f"/opt/{self.config.project}", "/etc/docker/daemon.json", CONF_PATH]

    @property
    def tls_domains(self) -> list[str]:
        if "web" not in self.roles:
            return []
        if self.ops.alerts.tls_domains is not None:
            return self.ops.alerts.tls_domains
        # The names this server's proxy holds a certificate for (exposed hosts and redirect sources), not
        # every DNS record: a record nothing serves has no certificate to watch.
        if not any(name in app_config.RESERVED_SERVICE_NAMES for name in app_config.placement(self.config)[self.server]):
            return []
        return [app_config.service_fqdn(self.config, host) for host in self.config.app.served_hosts()]

    @property
    def app_services(self) -> list[str]:
        """Services stopped during a manual restore: everything here except the data stores and the proxy."""
        keep = (self.pg_service, self.redis_service, *app_config.RESERVED_SERVICE_NAMES)
        return [name for name in self.services_here if name not in keep]

    def node_exporter_address(self, runtime: HostRuntime) -> str:
        exporter = self.ops.monitoring.node_exporter
        host = runtime.private_ip if exporter.listen == "private" and runtime.private_ip else "127.0.0.1"
        return f"{host}:{exporter.port}"


def ops_view(config: StackConfig, server: str) -> OpsView:
    if server not in config.servers:
        raise KeyError(f"no server named '{server}'")
    roles = tuple(config.servers[server].roles)
    services = config.app.services
    here = tuple(app_config.placement(config)[server])  # compose services on this server, proxy included
    app_here = [name for name in here if name in services]
    backup = config.ops.backup
    pg_service = backup.postgres.service or next(
        (n for n in app_here if is_postgres_image(services[n].image) or services[n].kind == "postgres"), None)
    if pg_service is not None and pg_service not in here:
        pg_service = None
    redis_service = backup.redis.service or next(
        (n for n in app_here if is_redis_image(services[n].image) or services[n].kind == "redis"), None)
    if redis_service is not None and redis_service not in here:
        redis_service = None
    pg_image = config.ops.drill.image or (services[pg_service].image if pg_service in services else None)
    project = config.ops.compose_project or config.project
    pg_user = "postgres"
    if pg_service in services:
        user = services[pg_service].environment.get("POSTGRES_USER")
        if isinstance(user, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}", user):
            pg_user = user
    return OpsView(
        config=config,
        server=server,
        roles=roles,
        services_here=here,
        pg_service=pg_service,
        pg_image=pg_image or None,
        pg_user=pg_user,
        redis_service=redis_service,
        compose_project=project,
        # The app step deploys releases under /opt/<project>/releases and points `current` at the live one.
        compose_dir=config.ops.compose_dir or f"/opt/{config.project}/current",
    )


# --- secrets --------------------------------------------------------------------------------------
def ops_secret_names(config: StackConfig) -> list[str]:
    """Secret config keys the ops step reads (`pulumi config set --secret hetzner-platform:<name>`)."""
    ops = config.ops
    if not ops.enabled:
        return []
    names: list[str] = []
    if ops.alerts.enabled:
        names.append("alertWebhookUrl")
    has_db = bool(config.servers_with_role("db"))
    if ops.backup.enabled and ops.backup.offsite is not None and has_db:
        names.append("resticPassword")
        kind = ops.backup.offsite.kind
        if kind == "s3":
            names += ["s3AccessKey", "s3SecretKey"]
        elif kind == "sftp":
            names.append("storageBoxSshKey")
    if ops.monitoring.prometheus.enabled and ops.monitoring.prometheus.grafana:
        names.append("grafanaAdminPassword")
    return names


def _placeholders(config: StackConfig) -> dict[str, str]:
    return {name: SECRET_PLACEHOLDER.format(name=name) for name in ops_secret_names(config)}


# --- scripts and settings -------------------------------------------------------------------------
@cache
def render_script(name: str) -> str:
    """A script template with the common block inlined."""
    if name not in SCRIPTS:
        raise KeyError(name)
    common = (TEMPLATE_DIR / "common.sh").read_text()
    body = (TEMPLATE_DIR / name).read_text()
    if "# @include common\n" not in body:
        raise ValueError(f"template {name} lacks the '# @include common' line")
    return body.replace("# @include common\n", common, 1)


def _assign(name: str, value: str | int | bool) -> str:
    if isinstance(value, bool):
        value = "1" if value else "0"
    return f"{name}=${{{name}-{shlex.quote(str(value))}}}"


def _sftp_command(view: OpsView) -> str:
    if not view.offsite or view.ops.backup.offsite is None or view.ops.backup.offsite.kind != "sftp":
        return ""
    return f"ssh -F {STORAGEBOX_SSH_CONFIG} storagebox -s sftp"


def _storagebox_ssh_config(repository: str) -> str:
    """ssh_config for restic's sftp.command, parsed from sftp://user@host:port//path or sftp:user@host:/path."""
    rest = repository.split("sftp://", 1)[1] if repository.startswith("sftp://") else repository.split("sftp:", 1)[1]
    authority = rest.split("/", 1)[0].rstrip(":") if repository.startswith("sftp://") else rest.split(":", 1)[0]
    user, _, hostport = authority.rpartition("@")
    host, _, port = hostport.partition(":")
    lines = [
        "# restic sftp transport to the Hetzner Storage Box (port 23 by default)",
        "Host storagebox",
        f"  HostName {host}",
        f"  Port {port or '23'}",
        *([f"  User {user}"] if user else []),
        f"  IdentityFile {STORAGEBOX_KEY_PATH}",
        "  IdentitiesOnly yes",
        "  StrictHostKeyChecking accept-new",
        f"  UserKnownHostsFile {STATE_DIR}/storagebox_known_hosts",
        "  ServerAliveInterval 30",
        "",
    ]
    return "\n".join(lines)


def ops_conf(view: OpsView) -> str:
    ops = view.ops
    backup = ops.backup
    alerts = ops.alerts
    cleanup = ops.cleanup
    drill = ops.drill
    config = view.config
    pg_user = backup.postgres.user or view.pg_user
    values: list[tuple[str, str | int | bool]] = [
        ("HP_PROJECT", config.project),
        ("HP_ENVIRONMENT", config.environment),
        ("HP_SERVER", view.server),
        ("HP_STATE_DIR", STATE_DIR),
        ("HP_STATE_FILE", STATE_FILE),
        ("HP_TEXTFILE_DIR", TEXTFILE_DIR),
        ("HP_BACKUP_DIR", backup.dir),
        ("HP_COMPOSE", view.compose),
        ("HP_COMPOSE_PROJECT", view.compose_project),
        ("HP_PG_ENABLED", view.pg_backups),
        ("HP_PG_EXEC", f"{view.compose} exec -T {view.pg_service}" if view.pg_service else ""),
        ("HP_PG_ARGS", f"-U {pg_user}"),
        ("HP_PG_DATABASES", " ".join(backup.postgres.databases)),
        ("HP_REDIS_ENABLED", view.redis_backups),
        ("HP_REDIS_SERVICE", view.redis_service or ""),
        ("HP_REDIS_EXEC", f"{view.compose} exec -T {view.redis_service}" if view.redis_service else ""),
        ("HP_REDIS_DATA_DIR", backup.redis.data_dir),
        ("HP_BACKUP_PATHS", " ".join(backup.paths)),
        ("HP_BACKUP_VOLUMES", " ".join(backup.volumes)),
        ("HP_APP_DATA_DIR", config.app.resolved_data_dir(config.project)),  # where service volumes are bind-mounted
        ("HP_BACKUP_CONFIGS", " ".join(view.backup_configs)),
        ("HP_KEEP_HOURLY_HOURS", backup.retention.hourly_hours),
        ("HP_KEEP_DAILY", backup.retention.daily),
        ("HP_KEEP_WEEKLY", backup.retention.weekly),
        ("HP_WEEKLY_DAY", backup.retention.weekly_day),
        ("HP_RESTIC_REPOSITORY", backup.offsite.repository if view.offsite and backup.offsite else ""),
        ("HP_RESTIC_SFTP_COMMAND", _sftp_command(view)),
        ("HP_RESTIC_CHECK_SUBSET", backup.offsite.check_subset if backup.offsite else "0"),
        ("HP_DRILL_IMAGE", view.pg_image or ""),
        ("HP_DRILL_NAME", DRILL_CONTAINER),
        ("HP_DRILL_MEMORY", drill.memory),
        ("HP_DRILL_EXEC", f"docker exec -i {DRILL_CONTAINER}"),
        ("HP_DRILL_ARGS", "-h 127.0.0.1 -U postgres"),
        ("HP_DRILL_TABLES", " ".join(drill.tables)),
        ("HP_DRILL_SQL", drill.sql or ""),
        ("HP_DRILL_SQL_DB", drill.sql_database or ""),
        ("HP_DRILL_MIN_ROWS", drill.min_rows),
        ("HP_APP_SERVICES", " ".join(view.app_services)),
        ("HP_BLUE_GREEN_SERVICES", " ".join(blue_green_services(config, view.app_services))),
        ("HP_CLEANUP_RULES", "\n".join(f"{r.max_age_days}|{r.pattern}|{r.path}" for r in cleanup.rules)),
        ("HP_DOCKER_PRUNE", cleanup.docker_prune),
        ("HP_WEBHOOK_KIND", alerts.webhook),
        ("HP_TELEGRAM_CHAT_ID", alerts.telegram_chat_id or ""),
        ("HP_DISK_PERCENT", alerts.disk_percent),
        ("HP_MEMORY_PERCENT", alerts.memory_percent),
        ("HP_CHECK_COMPOSE", bool(view.services_here)),
        ("HP_EXPECTED_SERVICES", " ".join(view.services_here)),
        ("HP_LIVE_COLOUR_FILE", f"{releases_dir(config.project)}/{LIVE_COLOUR_STATE}"),
        ("HP_CHECK_BACKUP", view.backups),
        ("HP_RPO_MINUTES", ops.rpo_minutes),
        ("HP_CHECK_DRILL", view.drill),
        ("HP_DRILL_MAX_AGE_HOURS", drill.max_age_hours),
        ("HP_CERT_DAYS", alerts.cert_days),
        ("HP_TLS_DOMAINS", " ".join(view.tls_domains)),
        ("HP_TLS_CONNECT", "127.0.0.1:443"),
        ("HP_CERT_FILES", " ".join(alerts.cert_files)),
        ("HP_REPEAT_MINUTES", alerts.repeat_minutes),
        ("HP_NOTIFY_RESOLVED", alerts.notify_resolved),
    ]
    header = [
        f"# hetzner-platform ops settings for {config.project}/{config.environment} server {view.server}.",
        "# Rendered from the stack config by the ops step: edit Pulumi.<stack>.yaml, not this file.",
        "# Every line keeps a value already set in the environment (VAR=${VAR-default}).",
    ]
    return "\n".join([*header, *(_assign(name, value) for name, value in values)]) + "\n"


def ops_env(view: OpsView, secrets: Mapping[str, str]) -> str:
    lines = [
        "# hetzner-platform ops secrets (mode 0600, root only). Written by the ops step from Pulumi secrets.",
    ]

    def put(export: bool, name: str, key: str) -> None:
        if key in secrets:
            lines.append(f"{'export ' if export else ''}{name}={shlex.quote(secrets[key])}")

    if view.alerts:
        put(False, "HP_ALERT_WEBHOOK_URL", "alertWebhookUrl")
    if view.offsite:
        put(True, "RESTIC_PASSWORD", "resticPassword")
        offsite = view.ops.backup.offsite
        if offsite is not None and offsite.kind == "s3":
            put(True, "AWS_ACCESS_KEY_ID", "s3AccessKey")
            put(True, "AWS_SECRET_ACCESS_KEY", "s3SecretKey")
    return "\n".join(lines) + "\n"


# --- systemd units --------------------------------------------------------------------------------
def _oneshot(description: str, exec_start: str, *, identifier: str, timeout: str, on_failure: bool = True,
             docker: bool = False, low_priority: bool = True) -> str:
    unit = ["[Unit]", f"Description={description}", "Wants=network-online.target"]
    unit.append("After=network-online.target docker.service" if docker else "After=network-online.target")
    if on_failure:
        unit.append("OnFailure=hp-alert@%n.service")
    service = ["", "[Service]", "Type=oneshot", f"ExecStart={exec_start}", f"SyslogIdentifier={identifier}",
               f"TimeoutStartSec={timeout}"]
    if low_priority:
        service += ["Nice=10", "IOSchedulingClass=best-effort", "IOSchedulingPriority=7"]
    return "\n".join([*unit, *service]) + "\n"


def _timer(description: str, calendar: str, randomized: str = "60") -> str:
    return (
        f"[Unit]\nDescription={description}\n\n"
        f"[Timer]\nOnCalendar={calendar}\nPersistent=true\nRandomizedDelaySec={randomized}\nAccuracySec=1min\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )


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
    return (
        "[Unit]\n"
        f"Description=Prometheus node exporter on {address} (hetzner-platform; never public)\n"
        "After=docker.service\nRequires=docker.service\n\n"
        "[Service]\n"
        f"ExecStartPre=-{DOCKER} rm -f hp-node-exporter\n"
        f"ExecStart={args}\n"
        f"ExecStop={DOCKER} stop hp-node-exporter\n"
        "Restart=always\nRestartSec=10\nSyslogIdentifier=hp-node-exporter\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def _monitoring_unit() -> str:
    compose = f"{DOCKER} compose -f {MONITORING_DIR}/compose.yaml"
    return (
        "[Unit]\nDescription=Prometheus + Grafana preset (hetzner-platform), loopback only\n"
        "After=docker.service network-online.target\nRequires=docker.service\nWants=network-online.target\n\n"
        "[Service]\nType=oneshot\nRemainAfterExit=yes\n"
        f"ExecStart={compose} up -d --remove-orphans\n"
        f"ExecStop={compose} down\n"
        "TimeoutStartSec=10min\nSyslogIdentifier=hp-monitoring\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def ops_units(view: OpsView, runtime: HostRuntime) -> dict[str, str]:
    """Unit file name -> content for this server."""
    ops = view.ops
    units: dict[str, str] = {}
    units["hp-alert@.service"] = (
        "[Unit]\nDescription=hetzner-platform alert: %i failed\n\n"
        f"[Service]\nType=oneshot\nExecStart={SBIN}/hp-alert-send --unit-failed %i\nSyslogIdentifier=hp-alert\n"
        "TimeoutStartSec=2min\n"
    )
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


# --- optional Prometheus + Grafana preset ---------------------------------------------------------
def prometheus_files(view: OpsView, runtime: HostRuntime, secrets: Mapping[str, str]) -> dict[str, str]:
    monitoring = view.ops.monitoring
    preset = monitoring.prometheus
    alerts = view.ops.alerts
    scrape = [
        {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{PROMETHEUS_PORT}"]}]},
        {"job_name": "node", "static_configs": [{"targets": [view.node_exporter_address(runtime)]}]},
        {"job_name": "docker", "static_configs": [{"targets": [monitoring.docker_metrics]}]},
        *({"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in preset.extra_targets.items()),
    ]
    prometheus = {
        "global": {"scrape_interval": preset.scrape_interval, "evaluation_interval": preset.scrape_interval},
        "rule_files": ["/etc/prometheus/alerts.yml"],
        "scrape_configs": scrape,
    }
    real_fs = 'fstype!~"tmpfs|overlay|squashfs|devtmpfs"'
    rules = [
        # Seed 004's rules (the error rate as a ratio, latency from a rate), then the small-box ones.
        {"alert": "HighErrorRate",
         "expr": 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05',
         "for": "5m", "labels": {"severity": "critical"},
         "annotations": {"summary": "High error rate detected",
                         "description": "Error rate is {{ $value | humanizePercentage }}"}},
        {"alert": "HighAPILatency",
         "expr": "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 2",
         "for": "10m", "labels": {"severity": "warning"},
         "annotations": {"summary": "API latency exceeding 2 seconds"}},
        {"alert": "DiskSpaceLow",
         "expr": f"(1 - node_filesystem_avail_bytes{{{real_fs}}} / node_filesystem_size_bytes{{{real_fs}}}) * 100"
                 f" > {alerts.disk_percent}",
         "for": "5m", "labels": {"severity": "critical"},
         "annotations": {"summary": f"Less than {100 - alerts.disk_percent}% disk space remaining on {{{{ $labels.mountpoint }}}}"}},
        {"alert": "MemoryHigh",
         "expr": f"(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100 > {alerts.memory_percent}",
         "for": "5m", "labels": {"severity": "critical"},
         "annotations": {"summary": f"Memory usage above {alerts.memory_percent}%"}},
        {"alert": "TargetDown", "expr": "up == 0", "for": "5m", "labels": {"severity": "critical"},
         "annotations": {"summary": "{{ $labels.job }} on {{ $labels.instance }} is down"}},
        {"alert": "BackupTooOld",
         "expr": f"time() - hp_backup_last_good_timestamp_seconds > {view.ops.rpo_minutes * 60}",
         "for": "10m", "labels": {"severity": "critical"},
         "annotations": {"summary": f"Newest good backup is older than the RPO ({view.ops.rpo_minutes} min)"}},
        {"alert": "RestoreDrillFailed", "expr": "hp_restore_drill_last_success == 0", "for": "0m",
         "labels": {"severity": "critical"}, "annotations": {"summary": "The last restore drill failed"}},
    ]
    alert_rules = {"groups": [{"name": f"{view.config.project}-alerts", "interval": "30s", "rules": rules}]}
    services: dict[str, object] = {
        "prometheus": {
            "image": preset.prometheus_image,
            "network_mode": "host",
            "restart": "unless-stopped",
            "command": [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={preset.retention}",
                f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
            ],
            "volumes": [
                "./prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                "./alerts.yml:/etc/prometheus/alerts.yml:ro",
                "prometheus-data:/prometheus",
            ],
            "deploy": {"resources": {"limits": {"memory": "384M", "cpus": "0.5"}}},
        },
    }
    volumes: dict[str, object] = {"prometheus-data": {}}
    files = {
        f"{MONITORING_DIR}/prometheus.yml": yaml.safe_dump(prometheus, sort_keys=False),
        f"{MONITORING_DIR}/alerts.yml": yaml.safe_dump(alert_rules, sort_keys=False),
    }
    if preset.grafana:
        services["grafana"] = {
            "image": preset.grafana_image,
            "network_mode": "host",
            "restart": "unless-stopped",
            "env_file": ["./grafana.env"],
            "environment": {
                "GF_SERVER_HTTP_ADDR": "127.0.0.1",
                "GF_SERVER_HTTP_PORT": str(GRAFANA_PORT),
                "GF_ANALYTICS_REPORTING_ENABLED": "false",
                "GF_USERS_ALLOW_SIGN_UP": "false",
            },
            "volumes": ["grafana-data:/var/lib/grafana", "./grafana-datasources.yml:/etc/grafana/provisioning/datasources/hp.yml:ro"],
            "deploy": {"resources": {"limits": {"memory": "192M", "cpus": "0.5"}}},
        }
        volumes["grafana-data"] = {}
        files[f"{MONITORING_DIR}/grafana-datasources.yml"] = yaml.safe_dump(
            {"apiVersion": 1, "datasources": [{"name": "Prometheus", "type": "prometheus", "access": "proxy",
                                                "url": f"http://127.0.0.1:{PROMETHEUS_PORT}", "isDefault": True}]}, sort_keys=False)
        password = secrets.get("grafanaAdminPassword", "")
        files[f"{MONITORING_DIR}/grafana.env"] = f"GF_SECURITY_ADMIN_PASSWORD={password}\n"
    compose = {"name": f"{view.compose_project}-monitoring", "services": services, "volumes": volumes}
    files[f"{MONITORING_DIR}/compose.yaml"] = yaml.safe_dump(compose, sort_keys=False)
    return files


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
        files[STORAGEBOX_SSH_CONFIG] = _storagebox_ssh_config(offsite.repository)
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
    return _render_files(config, server, HostRuntime(), _placeholders(config))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


STEP_PROLOGUE = r"""#!/usr/bin/env bash
# hetzner-platform step: ops. Idempotent: writes only files whose content or mode differ.
# Nothing secret is printed: file contents travel base64-encoded on stdin, only paths are echoed.
set -euo pipefail
umask 077
export DEBIAN_FRONTEND=noninteractive
HP_ROOT=${HP_ROOT:-}
HP_SKIP=${HP_SKIP:-}
changed=0
units_changed=0
exporter_changed=0

put_file() {  # PATH MODE BASE64
  local path=$HP_ROOT$1 mode=$2 tmp
  tmp=$(mktemp)
  printf '%s' "$3" | base64 -d > "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path" && [ "$(stat -c %a "$path")" = "${mode#0}" ]; then
    rm -f "$tmp"
    return 0
  fi
  mkdir -p "$(dirname "$path")"
  install -m "$mode" "$tmp" "$path"
  rm -f "$tmp"
  changed=$((changed + 1))
  case $1 in
    /etc/systemd/system/*) units_changed=1 ;;
  esac
  case $1 in
    */hp-node-exporter.service) exporter_changed=1 ;;
  esac
  echo "hetzner-platform step=ops updated $1"
}

skip() {  # HP_SKIP holds words such as "systemctl,apt"
  case $HP_SKIP in
    *"$1"*) return 0 ;;
  esac
  return 1
}
"""


def ops_step(config: StackConfig, server: str, runtime: HostRuntime, secrets: Mapping[str, str]) -> HostStep | None:
    """The `ops` remote command for one server, or None when ops is disabled."""
    if not config.ops.enabled:
        return None
    files = _render_files(config, server, runtime, secrets)
    units = sorted(path.rsplit("/", 1)[1] for path in files if path.startswith(f"{UNIT_DIR}/"))
    enable = [unit for unit in units if unit.endswith(".timer")]
    services: list[str] = [unit for unit in ("hp-node-exporter.service", "hp-monitoring.service") if unit in units]
    stale = [unit for unit in ALL_UNITS if unit not in units]
    lines = [STEP_PROLOGUE]
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
    lines.append(f'install -d -m 0755 "$HP_ROOT{ETC_DIR}" "$HP_ROOT{TEXTFILE_DIR}"')
    lines.append(f'install -d -m 0700 "$HP_ROOT{STATE_DIR}" "$HP_ROOT{config.ops.backup.dir}"')
    lines.append(f'[ -e "$HP_ROOT{STATE_DIR}/installed" ] || touch "$HP_ROOT{STATE_DIR}/installed"')
    for path in sorted(files):
        lines.append(f"put_file {shlex.quote(path)} {file_mode(path)} {_b64(files[path])}")
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
    lines.append('echo "hetzner-platform step=ops changed=$changed"')
    script = "\n".join(lines) + "\n"
    return HostStep(name="ops", script=script, files=files)
