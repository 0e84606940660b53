"""What the ops layer does on one server (backups, drill, cleanup, alerts, exporters), resolved from the
config once for the renderers of render/ops*.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.app_values import RESERVED_SERVICE_NAMES
from config.ops import OpsConfig
from config.schema import StackConfig
from config.stack_views import service_fqdn
from render.steps import HostRuntime
from spec.host_paths import CONF_PATH, DOCKER_DAEMON_JSON, current_release_dir, releases_dir
from spec.service_homes import placement


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
        return [releases_dir(self.config.project), DOCKER_DAEMON_JSON, CONF_PATH]

    @property
    def tls_domains(self) -> list[str]:
        if "web" not in self.roles:
            return []
        if self.ops.alerts.tls_domains is not None:
            return self.ops.alerts.tls_domains
        # The names this server's proxy holds a certificate for (exposed hosts and redirect sources), not
        # every DNS record: a record nothing serves has no certificate to watch.
        if not any(name in RESERVED_SERVICE_NAMES for name in placement(self.config)[self.server]):
            return []
        return [service_fqdn(self.config, host) for host in self.config.app.served_hosts()]

    @property
    def app_services(self) -> list[str]:
        """Services stopped during a manual restore: everything here except the data stores and the proxy."""
        keep = (self.pg_service, self.redis_service, *RESERVED_SERVICE_NAMES)
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
    here = tuple(placement(config)[server])  # compose services on this server, proxy included
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
        compose_dir=config.ops.compose_dir or current_release_dir(config.project),
    )
