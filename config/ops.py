"""Operations settings: backups, restore drills, cleanup, monitoring and alerts.

Defaults follow the seeds: hourly + daily PostgreSQL dumps (seed 004), 7 daily / 4 weekly kept and
hourly kept 24 h (seed 000), RPO 1 h (seed 003), disk and memory alerts at 90 % (seed 000), TLS
certificates renewed at least 14 days before expiry. Everything renders into files under
/etc/hetzner-platform and systemd units; see docs/ops.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from config.base import ConfigModel
from config.errors import ConfigIssue
from config.formats import check_calendar, check_domain, check_image
from config.paths import check_host_dir, literal_prefix, normalise, system_path_problem

_ABS_PATH_RE = re.compile(r"^/[A-Za-z0-9._/*@+-]*$", re.ASCII)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", re.ASCII)
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$", re.ASCII)
_RESTIC_REPO_RE = re.compile(r"^(s3:https?://\S+|sftp:\S+|sftp://\S+|rest:https?://\S+|/\S+)$", re.ASCII)

Percent = Annotated[int, Field(ge=1, le=100)]
# Default RPOs: one backup interval plus an hour's slack for a slow run (seed 003: RPO 1 h).
RPO_HOURLY_MINUTES = 60
RPO_DAILY_MINUTES = 24 * 60 + 60


def _abs_path(value: str) -> str:
    if not _ABS_PATH_RE.fullmatch(value) or value.rstrip("/") == "" or ".." in value.split("/"):
        raise ValueError(f"'{value}' must be an absolute path (letters, digits, . _ - / and * globs; not / itself)")
    return value.rstrip("/")


# Field types that carry their check: a systemd OnCalendar expression; an absolute path (no trailing /).
Calendar = Annotated[str, AfterValidator(check_calendar)]
AbsPath = Annotated[str, AfterValidator(_abs_path)]
# A host directory the platform writes into: normalised, never a system path (config/paths.py).
HostDir = Annotated[str, AfterValidator(check_host_dir)]


class RetentionConfig(ConfigModel):
    hourly_hours: Annotated[int, Field(ge=1, le=24 * 14)] = 24
    daily: Annotated[int, Field(ge=1, le=366)] = 7
    weekly: Annotated[int, Field(ge=0, le=520)] = 4
    # Day on which the daily run is also kept as the weekly one (systemd day names).
    weekly_day: Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] = "Sun"


class PostgresBackupConfig(ConfigModel):
    enabled: bool = True
    # Compose service running PostgreSQL; None: the app service whose image starts with
    # `postgres` or `pgvector/pgvector`.
    service: str | None = None
    # Databases to dump; empty: every database that accepts connections, except templates and `postgres`.
    databases: list[str] = Field(default_factory=list)
    # Role the dumps run as; None: the service's POSTGRES_USER (the image's superuser), else postgres.
    user: str | None = None

    @field_validator("databases")
    @classmethod
    def _databases(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _NAME_RE.fullmatch(name):
                raise ValueError(f"'{name}' is not a plain database name (letters, digits, _ . -)")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not _NAME_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a plain role name")
        return value


class RedisBackupConfig(ConfigModel):
    enabled: bool = True
    # Compose service running Redis; None: the app service whose image starts with `redis`.
    service: str | None = None
    data_dir: AbsPath = "/data"  # inside the container


class OffsiteConfig(ConfigModel):
    """A restic repository: encrypted, deduplicated, pruned with the same retention.

    S3-compatible: `s3:https://fsn1.your-objectstorage.com/bucket/prefix` (secrets s3AccessKey, s3SecretKey).
    Hetzner Storage Box: `sftp://u123456@u123456.your-storagebox.de:23//backups/prod` (secret storageBoxSshKey).
    Secret resticPassword always. A local path (`/srv/restic`) is allowed for tests and second disks.
    """

    repository: str
    # restic check --read-data-subset on the weekly day; "0" disables.
    check_subset: str = "5%"

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _RESTIC_REPO_RE.fullmatch(value) or "'" in value or '"' in value:
            raise ValueError(
                f"'{value}' is not a restic repository: use s3:https://ENDPOINT/BUCKET/PATH or "
                "sftp://USER@HOST:23//PATH (Hetzner Storage Box)"
            )
        return value

    @field_validator("check_subset")
    @classmethod
    def _subset(cls, value: str) -> str:
        if not re.fullmatch(r"^(0|\d{1,2}%|\d+/\d+)$", value, re.ASCII):
            raise ValueError(f"'{value}' is not a restic --read-data-subset value such as 5% or 1/10 (0 disables)")
        return value

    @property
    def kind(self) -> Literal["s3", "sftp", "rest", "local"]:
        if self.repository.startswith("s3:"):
            return "s3"
        if self.repository.startswith("sftp"):
            return "sftp"
        if self.repository.startswith("rest:"):
            return "rest"
        return "local"


class BackupConfig(ConfigModel):
    enabled: bool = True
    dir: HostDir = "/var/backups/hetzner-platform"
    hourly: bool = True
    hourly_calendar: Calendar = "*-*-* *:05:00"
    daily_calendar: Calendar = "*-*-* 02:15:00"
    postgres: PostgresBackupConfig = Field(default_factory=PostgresBackupConfig)
    redis: RedisBackupConfig = Field(default_factory=RedisBackupConfig)
    # Host paths (files or directories) and volumes copied by the daily run. A volume name is an app
    # volume (bind mount <app.dataDir>/<name>) or a docker volume (<project>_<name> or <name>).
    # Database files are covered by the dumps: do not list the PostgreSQL volume here.
    paths: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    # Configuration copied by the daily run; None: /opt/<project> (releases, compose file, .env),
    # /etc/docker/daemon.json and /etc/hetzner-platform/ops.conf.
    configs: list[str] | None = None
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    offsite: OffsiteConfig | None = None
    # Hetzner-side protection; the server's own `backups` flag lives in servers.<name>.backups.
    snapshot_before_change: bool = False

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        return [_abs_path(path) for path in value]

    @field_validator("configs")
    @classmethod
    def _configs(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_abs_path(path) for path in value]

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _NAME_RE.fullmatch(name):
                raise ValueError(f"'{name}' is not a docker volume name")
        return value


class DrillConfig(ConfigModel):
    """Restore the newest dump into a throwaway PostgreSQL and prove it holds data."""

    enabled: bool = True
    calendar: Calendar = "*-*-* 04:30:00"
    # Image of the throwaway server; None: the image of the PostgreSQL service (same major version).
    image: str | None = None
    # Smoke checks: row counts of these tables ("table" or "schema.table") in every restored database
    # that has them, and/or one SQL statement that must succeed (its output is recorded).
    tables: list[str] = Field(default_factory=list)
    sql: str | None = None
    sql_database: str | None = None  # where `sql` runs; None: every restored database
    min_rows: Annotated[int, Field(ge=0, le=2**53)] = 0
    memory: str = "512m"  # memory limit of the throwaway container
    # Alert when the last successful drill is older than this.
    max_age_hours: Annotated[int, Field(ge=1, le=24 * 31)] = 48

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image(value)

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: list[str]) -> list[str]:
        for table in value:
            if not _TABLE_RE.fullmatch(table):
                raise ValueError(f"'{table}' is not a plain table name (table or schema.table)")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not re.fullmatch(r"^\d+[kmg]$", value, re.ASCII):
            raise ValueError(f"'{value}' is not a docker memory size such as 512m")
        return value


class CleanupRule(ConfigModel):
    path: str  # globs allowed, e.g. /app/media/user_*/video
    max_age_days: Annotated[int, Field(ge=1, le=3650)]
    pattern: str = "*"  # file name pattern for find -name

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        # Globs only below a literal directory that is not a system path ("/*" would be every directory).
        path = normalise(value, globs=True)
        prefix = literal_prefix(path)
        problem = system_path_problem(prefix) if prefix != "/" else "'/' is every directory"
        if problem is not None:
            resolved = f" (it resolves to {path})" if path != value.rstrip("/") else ""
            raise ValueError(f"{problem}{resolved}; name the directory that holds temporary files")
        return path

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if not re.fullmatch(r"^[A-Za-z0-9._*?\[\]-]+$", value, re.ASCII):
            raise ValueError(f"'{value}' is not a find -name pattern such as *.log")
        return value


def _default_cleanup_rules() -> list[CleanupRule]:
    # Seed 000: "Keep only last 30 days of logs". Temporary media rules are app-specific: add them
    # in the stack file (e.g. path /app/media/user_*/video, maxAgeDays 7).
    return [CleanupRule(path="/var/log", pattern="*.log", max_age_days=30)]


class CleanupConfig(ConfigModel):
    enabled: bool = True
    calendar: Calendar = "*-*-* 03:30:00"
    rules: list[CleanupRule] = Field(default_factory=_default_cleanup_rules)
    # `docker system prune -f` (never --volumes: that deletes database volumes of stopped stacks).
    docker_prune: bool = True
    # The journal's size and age limits belong to the host's base step (host.journalMaxUse etc.).


class AlertConfig(ConfigModel):
    enabled: bool = True
    calendar: Calendar = "*:0/5"
    # Webhook format; the URL is the secret alertWebhookUrl (for Telegram: https://api.telegram.org/bot<TOKEN>/sendMessage).
    webhook: Literal["generic", "slack", "telegram"] = "generic"
    telegram_chat_id: str | None = None
    disk_percent: Percent = 90
    memory_percent: Percent = 90
    # The age of the newest good backup that raises the backup alert; None: derived from the backup
    # schedule (RPO_HOURLY_MINUTES with hourly dumps, RPO_DAILY_MINUTES with daily ones only).
    rpo_minutes: Annotated[int, Field(ge=5, le=60 * 24 * 7)] | None = None
    cert_days: Annotated[int, Field(ge=1, le=90)] = 14
    # Domains whose certificate is read through the local proxy (SNI to 127.0.0.1:443); None: the names
    # the proxy on that server serves (every exposed service's hosts and the redirect sources).
    tls_domains: list[str] | None = None
    cert_files: list[str] = Field(default_factory=list)
    # A firing alert is repeated after this long; a cleared one sends a "resolved" message.
    repeat_minutes: Annotated[int, Field(ge=5, le=60 * 24 * 7)] = 360
    notify_resolved: bool = True

    @field_validator("tls_domains")
    @classmethod
    def _domains(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [check_domain(domain) for domain in value]

    @field_validator("cert_files")
    @classmethod
    def _files(cls, value: list[str]) -> list[str]:
        return [_abs_path(path) for path in value]

    @model_validator(mode="after")
    def _telegram(self) -> AlertConfig:
        if self.webhook == "telegram" and not self.telegram_chat_id:
            raise ValueError("webhook 'telegram' needs telegramChatId")
        if self.telegram_chat_id is not None and not re.fullmatch(r"^-?\d+$|^@[A-Za-z0-9_]{5,}$", self.telegram_chat_id, re.ASCII):
            raise ValueError(f"'{self.telegram_chat_id}' is not a Telegram chat id (number or @channel)")
        return self


class NodeExporterConfig(ConfigModel):
    enabled: bool = True
    # loopback: 127.0.0.1 only; private: this server's private network address (falls back to loopback).
    listen: Literal["loopback", "private"] = "loopback"
    port: Annotated[int, Field(ge=1024, le=65535)] = 9100
    image: str = "quay.io/prometheus/node-exporter:v1.8.2"

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image(value)


class PrometheusConfig(ConfigModel):
    """Optional Prometheus + Grafana for bigger servers (about 400-500 MB RAM); off by default."""

    enabled: bool = False
    prometheus_image: str = "prom/prometheus:v2.53.2"
    grafana_image: str = "grafana/grafana-oss:11.2.0"
    grafana: bool = True
    retention: str = "15d"
    scrape_interval: str = "30s"
    # Extra scrape targets on this server, e.g. {"api": "127.0.0.1:8080"}.
    extra_targets: dict[str, str] = Field(default_factory=dict)

    @field_validator("prometheus_image", "grafana_image")
    @classmethod
    def _images(cls, value: str) -> str:
        return check_image(value)

    @field_validator("retention", "scrape_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not re.fullmatch(r"^\d+[smhdwy]$", value, re.ASCII):
            raise ValueError(f"'{value}' is not a Prometheus duration such as 30s or 15d")
        return value

    @field_validator("extra_targets")
    @classmethod
    def _targets(cls, value: dict[str, str]) -> dict[str, str]:
        for job, target in value.items():
            if not _NAME_RE.fullmatch(job) or not re.fullmatch(r"^[A-Za-z0-9.-]+:\d{1,5}$", target, re.ASCII):
                raise ValueError(f"target '{job}: {target}' must be name: host:port")
        return value


class MonitoringConfig(ConfigModel):
    node_exporter: NodeExporterConfig = Field(default_factory=NodeExporterConfig)
    # Docker's own metrics (daemon.json metrics-addr, owned by the host step).
    docker_metrics: str = "127.0.0.1:9323"
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)


class OpsConfig(ConfigModel):
    enabled: bool = True
    # Compose project and directory of the app stack; None: the stack's project name and
    # /opt/<project>/current (the live release of the app step).
    compose_project: str | None = None
    compose_dir: AbsPath | None = None
    backup: BackupConfig = Field(default_factory=BackupConfig)
    drill: DrillConfig = Field(default_factory=DrillConfig)
    cleanup: CleanupConfig = Field(default_factory=CleanupConfig)
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)

    @property
    def rpo_minutes(self) -> int:
        """The backup alert's RPO: the one set, else what the backup schedule can keep."""
        if self.alerts.rpo_minutes is not None:
            return self.alerts.rpo_minutes
        return RPO_HOURLY_MINUTES if self.backup.hourly else RPO_DAILY_MINUTES

    def schedule_issues(self) -> list[ConfigIssue]:
        """An RPO shorter than the backup interval would fire the backup alert most of the day."""
        rpo = self.alerts.rpo_minutes
        if not (self.enabled and self.backup.enabled and self.alerts.enabled) or self.backup.hourly or rpo is None:
            return []
        if rpo >= RPO_DAILY_MINUTES:
            return []
        return [ConfigIssue("ops.alerts.rpoMinutes", (
            f"{rpo} minutes is shorter than the backup interval: ops.backup.hourly is false, so the newest backup "
            f"is up to a day old and the alert would fire most of the day. Set rpoMinutes to at least "
            f"{RPO_DAILY_MINUTES} (or leave it out: that is the default with daily backups), or set "
            "ops.backup.hourly true"
        ))]

    @field_validator("compose_project")
    @classmethod
    def _compose_project(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"^[a-z0-9][a-z0-9_-]*$", value, re.ASCII):
            raise ValueError(f"'{value}' is not a compose project name (lowercase letters, digits, _ -)")
        return value
