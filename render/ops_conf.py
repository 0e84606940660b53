"""The ops scripts and their settings: the scripts from render/templates/ops, ops.conf (every setting,
not secret) and ops.env (the secrets, 0600), both as `VAR=${VAR-value}` so the environment wins in tests."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from config.path_checks import releases_dir
from config.schema import StackConfig
from config.stack_file import value_placeholder
from render.blue_green import LIVE_COLOUR_STATE, blue_green_services
from render.ops_view import OpsView
from spec.host_paths import (
    CONF_PATH,
    DRILL_CONTAINER,
    ENV_PATH,
    SBIN,
    SCRIPTS,
    STATE_DIR,
    STATE_FILE,
    STORAGEBOX_KEY_PATH,
    STORAGEBOX_SSH_CONFIG,
    TEXTFILE_DIR,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "ops"


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


def secret_placeholders(config: StackConfig) -> dict[str, str]:
    return {name: value_placeholder(name) for name in ops_secret_names(config)}


# --- scripts and settings -------------------------------------------------------------------------
@cache
def render_script(name: str) -> str:
    """A script template with the common block inlined."""
    if name not in SCRIPTS:
        raise KeyError(name)
    common = (TEMPLATE_DIR / "common.sh").read_text()
    body = (TEMPLATE_DIR / "rootfs" / SBIN.lstrip("/") / name).read_text()  # the script at its host path
    if "# @include common\n" not in body:
        raise ValueError(f"template {name} lacks the '# @include common' line")
    return body.replace("# @include common\n", _path_defaults(body + common) + common, 1)


def _path_defaults(script: str) -> str:
    """Where the scripts find their settings, and the fallbacks they use when a setting is unset (those
    `script` refers to): written here from spec/host_paths.py so the templates spell no host path."""
    fallbacks = {"HP_DEFAULT_STATE_DIR": STATE_DIR, "HP_DEFAULT_TEXTFILE_DIR": TEXTFILE_DIR, "HP_SBIN": SBIN}
    lines = [
        "# ---- host paths (spec/host_paths.py, inserted by render/ops_conf.py) ----",
        _assign("HP_CONF", CONF_PATH),
        _assign("HP_ENV_FILE", ENV_PATH),
        *(f"{name}={shlex.quote(path)}" for name, path in fallbacks.items() if f"${name}" in script),
    ]
    return "\n".join(lines) + "\n"


def _assign(name: str, value: str | int | bool) -> str:
    if isinstance(value, bool):
        value = "1" if value else "0"
    return f"{name}=${{{name}-{shlex.quote(str(value))}}}"


def _sftp_command(view: OpsView) -> str:
    if not view.offsite or view.ops.backup.offsite is None or view.ops.backup.offsite.kind != "sftp":
        return ""
    return f"ssh -F {STORAGEBOX_SSH_CONFIG} storagebox -s sftp"


def storagebox_ssh_config(repository: str) -> str:
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


Setting = tuple[str, str | int | bool]


def ops_conf(view: OpsView) -> str:
    config = view.config
    values = [
        *_host_settings(view), *_backup_settings(view), *_drill_settings(view), *_app_settings(view),
        *_check_settings(view),
    ]
    header = [
        f"# hetzner-platform ops settings for {config.project}/{config.environment} server {view.server}.",
        "# Rendered from the stack config by the ops step: edit Pulumi.<stack>.yaml, not this file.",
        "# Every line keeps a value already set in the environment (VAR=${VAR-default}).",
    ]
    return "\n".join([*header, *(_assign(name, value) for name, value in values)]) + "\n"


def _host_settings(view: OpsView) -> list[Setting]:
    """Which stack and server this is, where the ops state lives and how to reach its compose project."""
    config = view.config
    return [
        ("HP_PROJECT", config.project),
        ("HP_ENVIRONMENT", config.environment),
        ("HP_SERVER", view.server),
        ("HP_STATE_DIR", STATE_DIR),
        ("HP_STATE_FILE", STATE_FILE),
        ("HP_TEXTFILE_DIR", TEXTFILE_DIR),
        ("HP_BACKUP_DIR", view.ops.backup.dir),
        ("HP_COMPOSE", view.compose),
        ("HP_COMPOSE_PROJECT", view.compose_project),
    ]


def _backup_settings(view: OpsView) -> list[Setting]:
    """What hp-backup dumps and copies (PostgreSQL, Redis, paths, volumes), how long it keeps it, and where
    restic sends it off site."""
    backup = view.ops.backup
    config = view.config
    pg_user = backup.postgres.user or view.pg_user
    return [
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
    ]


def _drill_settings(view: OpsView) -> list[Setting]:
    """The restore drill: a throwaway PostgreSQL container restoring the latest dump and checking it."""
    drill = view.ops.drill
    return [
        ("HP_DRILL_IMAGE", view.pg_image or ""),
        ("HP_DRILL_NAME", DRILL_CONTAINER),
        ("HP_DRILL_MEMORY", drill.memory),
        ("HP_DRILL_EXEC", f"docker exec -i {DRILL_CONTAINER}"),
        ("HP_DRILL_ARGS", "-h 127.0.0.1 -U postgres"),
        ("HP_DRILL_TABLES", " ".join(drill.tables)),
        ("HP_DRILL_SQL", drill.sql or ""),
        ("HP_DRILL_SQL_DB", drill.sql_database or ""),
        ("HP_DRILL_MIN_ROWS", drill.min_rows),
    ]


def _app_settings(view: OpsView) -> list[Setting]:
    """The app services on this server (blue-green ones among them) and the cleanup rules."""
    cleanup = view.ops.cleanup
    return [
        ("HP_APP_SERVICES", " ".join(view.app_services)),
        ("HP_BLUE_GREEN_SERVICES", " ".join(blue_green_services(view.config, view.app_services))),
        ("HP_CLEANUP_RULES", "\n".join(f"{r.max_age_days}|{r.pattern}|{r.path}" for r in cleanup.rules)),
        ("HP_DOCKER_PRUNE", cleanup.docker_prune),
    ]


def _check_settings(view: OpsView) -> list[Setting]:
    """What hp-check watches (disk, memory, services, backup age, drill age, certificates) and how it alerts."""
    alerts = view.ops.alerts
    return [
        ("HP_WEBHOOK_KIND", alerts.webhook),
        ("HP_TELEGRAM_CHAT_ID", alerts.telegram_chat_id or ""),
        ("HP_DISK_PERCENT", alerts.disk_percent),
        ("HP_MEMORY_PERCENT", alerts.memory_percent),
        ("HP_CHECK_COMPOSE", bool(view.services_here)),
        ("HP_EXPECTED_SERVICES", " ".join(view.services_here)),
        ("HP_LIVE_COLOUR_FILE", f"{releases_dir(view.config.project)}/{LIVE_COLOUR_STATE}"),
        ("HP_CHECK_BACKUP", view.backups),
        ("HP_RPO_MINUTES", view.ops.rpo_minutes),
        ("HP_CHECK_DRILL", view.drill),
        ("HP_DRILL_MAX_AGE_HOURS", view.ops.drill.max_age_hours),
        ("HP_CERT_DAYS", alerts.cert_days),
        ("HP_TLS_DOMAINS", " ".join(view.tls_domains)),
        ("HP_TLS_CONNECT", "127.0.0.1:443"),
        ("HP_CERT_FILES", " ".join(alerts.cert_files)),
        ("HP_REPEAT_MINUTES", alerts.repeat_minutes),
        ("HP_NOTIFY_RESOLVED", alerts.notify_resolved),
    ]


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
