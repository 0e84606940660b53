"""One compose service (`app.services.<name>`): image, resources, health check, volumes, dependencies,
and the checks of one service at a time."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from config.app_expose import ExposeConfig
from config.app_files import ConfigFiles, PostgresTuning, RedisTuning
from config.app_values import (
    ENV_KEY_RE,
    EXTRA_COMPOSE_KEYS,
    POSTGRES_PORT,
    REDIS_PORT,
    SECRET_REF_RE,
    VOLUME_NAME_RE,
    Duration,
    Strategy,
    check_abs_path,
    check_duration,
    check_secret_name,
    check_tag,
    image_is_pinned,
    memory_mb,
    redis_memory_bytes,
)
from config.base import ConfigModel, Port, Role
from config.formats import check_image
from config.paths import normalise


class ResourceLimits(ConfigModel):
    # Docker refuses --cpus below 0.01 (one hundredth of a CPU) and memory below 6 MiB.
    cpus: Annotated[float, Field(ge=0.01, le=64)]
    memory: str

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if memory_mb(value) < 6:
            raise ValueError(f"'{value}' is below Docker's 6 MiB minimum for a memory limit")
        return value

    @property
    def memory_mb(self) -> float:
        return memory_mb(self.memory)


class HealthcheckConfig(ConfigModel):
    # A string runs through the container's shell (CMD-SHELL); a list is exec form (CMD ...).
    test: str | list[str]
    interval: Duration = "10s"
    timeout: Duration = "5s"
    retries: Annotated[int, Field(ge=1, le=100)] = 5
    start_period: Duration = "30s"

    @field_validator("interval", "timeout", "start_period", mode="before", json_schema_input_type=str | int)
    @classmethod
    def _durations(cls, value: str | int) -> str:
        return check_duration(value)

    @field_validator("test")
    @classmethod
    def _test(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("the healthcheck command is empty")
            return value
        if not value:
            raise ValueError("the healthcheck command is empty")
        if value[0] in ("CMD", "CMD-SHELL") and len(value) < 2:
            raise ValueError(f"'{value[0]}' needs a command after it")
        if value[0] == "NONE":
            raise ValueError("use no healthcheck key instead of NONE")
        return value

    def compose_test(self) -> list[str]:
        if isinstance(self.test, str):
            return ["CMD-SHELL", self.test]
        if self.test[0] in ("CMD", "CMD-SHELL"):
            return list(self.test)
        return ["CMD", *self.test]


DependsCondition = Literal["started", "healthy", "completed"]
# Compose's name for each dependsOn condition: what the rendered compose file says, and the long form a
# stack file may use instead of the short one.
COMPOSE_CONDITIONS: dict[DependsCondition, str] = {
    "started": "service_started",
    "healthy": "service_healthy",
    "completed": "service_completed_successfully",
}
_SHORT_CONDITIONS = {compose: short for short, compose in COMPOSE_CONDITIONS.items()}


class ServiceConfig(ConfigModel):
    # Required unless the service comes from app.composeFile ("" = take the compose file's image).
    # Without a tag (ghcr.io/acme/shop) the service runs `tag`, else app.release.
    image: str = ""
    tag: str | None = None
    role: Role = "web"
    # Pin to a named server; default: every server with the role (a stateful service: the first one).
    server: str | None = None
    command: str | list[str] | None = None
    entrypoint: str | list[str] | None = None
    environment: dict[str, str | int | float | bool] = Field(default_factory=dict)
    # Names of secrets passed as environment variables (values from appSecrets.<NAME>).
    secret_env: list[str] = Field(default_factory=list)
    expose: ExposeConfig | None = None
    # Its `ports` may be a load balancer destination (spec/ports.py); without it only the proxy may be.
    public: bool = False
    # Reachable only from ssh.adminCidrs through the proxy (e.g. Flower).
    admin_only: bool = False
    # Container ports other servers of the stack connect to (over the private network).
    ports: list[Port] | None = None
    # {name: container path}: bind mounts under <app.dataDir>/<name> on the data volume.
    volumes: dict[str, str] = Field(default_factory=dict)
    # Names of `volumes` this service shares on purpose with other services that list them too (uploaded
    # media read by workers). Without it two services never share a host data directory.
    shared_volumes: list[str] = Field(default_factory=list)
    healthcheck: HealthcheckConfig | None = None
    depends_on: dict[str, DependsCondition] = Field(default_factory=dict)
    limits: ResourceLimits
    reservations: ResourceLimits | None = None
    restart: Literal["no", "always", "on-failure", "unless-stopped"] = "unless-stopped"
    # app.engine swarm only: how many tasks (default: one per server with the role; stateful: 1).
    replicas: Annotated[int, Field(ge=1, le=100)] | None = None
    config_files: ConfigFiles | None = None
    # Internet access (a non-internal network); None: yes, except for role db and postgres/redis kinds.
    outbound: bool | None = None
    stop_grace_period: Duration | None = None
    # recreate | blue-green; default blue-green for exposed services (config/deploy_strategy.py).
    strategy: Strategy | None = None
    # Read-only host paths ({host path: container path}), e.g. /proc for a monitoring agent.
    host_mounts: dict[str, str] = Field(default_factory=dict)
    # hostMounts may reach the Docker socket, the host's root, credentials or the platform's state
    # (config/paths.py DANGEROUS_MOUNT_PATHS) only with this set: such a container controls the host.
    allow_dangerous_host_mounts: bool = False
    # Further compose keys for this service, limited to EXTRA_COMPOSE_KEYS (never ports or networks).
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("host_mounts")
    @classmethod
    def _host_mounts(cls, value: dict[str, str]) -> dict[str, str]:
        mounts = {normalise(host): check_abs_path(target) for host, target in value.items()}
        if len(mounts) != len(value):
            raise ValueError("the same host path is listed twice (after resolving . and ..)")
        return mounts

    @field_validator("extra")
    @classmethod
    def _extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(EXTRA_COMPOSE_KEYS))
        if unknown:
            raise ValueError(
                f"compose keys {unknown} are not allowed in extra (allowed: {', '.join(EXTRA_COMPOSE_KEYS)}); ports, "
                "networks, volumes, environment and resources have their own fields"
            )
        if value.get("pid") not in (None, "host"):
            raise ValueError("extra.pid may only be 'host'")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image(value) if value else value

    @field_validator("tag", mode="before")
    @classmethod
    def _tag(cls, value: object) -> object:
        return check_tag(value)

    @model_validator(mode="after")
    def _tag_needs_untagged_image(self) -> ServiceConfig:
        if self.tag is not None and image_is_pinned(self.image):
            raise ValueError(f"image '{self.image}' already has a tag or digest; drop it from the image to use tag")
        return self

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not ENV_KEY_RE.fullmatch(key):
                raise ValueError(f"'{key}' is not an environment variable name")
        return value

    @field_validator("secret_env")
    @classmethod
    def _secret_env(cls, value: list[str]) -> list[str]:
        for name in value:
            check_secret_name(name)
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"secrets listed twice: {duplicates}")
        return value

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            if not VOLUME_NAME_RE.fullmatch(name):
                raise ValueError(f"volume name '{name}' must be lowercase letters, digits, . _ -")
            check_abs_path(path)
        targets = list(value.values())
        duplicates = sorted({path for path in targets if targets.count(path) > 1})
        if duplicates:
            raise ValueError(f"container paths mounted twice: {duplicates}")
        return value

    @field_validator("depends_on", mode="before", json_schema_input_type=dict[str, str] | list[str])
    @classmethod
    def _depends(cls, value: Any) -> Any:
        # Accept a plain list (condition "started") and compose's long condition names.
        if isinstance(value, list):
            return {name: "started" for name in value}
        if isinstance(value, dict):
            return {name: _SHORT_CONDITIONS.get(str(cond), cond) for name, cond in value.items()}
        return value

    @field_validator("stop_grace_period", mode="before", json_schema_input_type=str | int | None)
    @classmethod
    def _grace(cls, value: str | int | None) -> str | None:
        return None if value is None else check_duration(value)

    @model_validator(mode="after")
    def _consistency(self) -> ServiceConfig:
        problems: list[str] = []
        if self.reservations is not None:
            if self.reservations.cpus > self.limits.cpus:
                problems.append(f"reservations.cpus {self.reservations.cpus:g} is above limits.cpus {self.limits.cpus:g}")
            if self.reservations.memory_mb > self.limits.memory_mb:
                problems.append(f"reservations.memory {self.reservations.memory} is above limits.memory {self.limits.memory}")
        if strategy_problem(self) is not None:
            problems.append(str(strategy_problem(self)))
        if self.admin_only and self.expose is None:
            problems.append("adminOnly needs expose (it restricts who reaches the service through the proxy)")
        overlap = sorted(set(self.secret_env) & set(self.environment))
        if overlap:
            problems.append(f"{overlap} are both secretEnv and plain environment")
        tuning = self.config_files
        if isinstance(tuning, RedisTuning) and tuning.maxmemory is not None:
            limit = self.limits.memory_mb
            maxmemory = redis_memory_bytes(tuning.maxmemory) / 1024**2
            headroom = max(64.0, limit * 0.10)
            if maxmemory + headroom > limit:
                problems.append(
                    f"configFiles.maxmemory {tuning.maxmemory} leaves less than {headroom:.0f} MiB headroom under "
                    f"limits.memory {self.limits.memory}: the kernel would kill Redis when the cache is full "
                    f"(raise limits.memory to at least {maxmemory + max(64.0, (maxmemory + 64) * 0.12):.0f}M)"
                )
        if isinstance(tuning, PostgresTuning) and self.limits.memory_mb < 256:
            problems.append(f"limits.memory {self.limits.memory} is too small for PostgreSQL (at least 256M)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- derived -----------------------------------------------------------------------------
    @property
    def kind(self) -> str | None:
        return self.config_files.kind if self.config_files is not None else None

    @property
    def stateful(self) -> bool:
        return bool(self.volumes) or self.kind in ("postgres", "redis")

    @property
    def needs_outbound(self) -> bool:
        if self.outbound is not None:
            return self.outbound
        return self.kind not in ("postgres", "redis") and self.role != "db"

    @property
    def private_ports(self) -> list[int]:
        if self.ports is not None:
            return list(self.ports)
        if self.kind == "postgres":
            return [POSTGRES_PORT]
        if self.kind == "redis":
            return [REDIS_PORT]
        return []

    def default_healthcheck(self) -> HealthcheckConfig | None:
        if self.healthcheck is not None:
            return self.healthcheck
        if self.kind == "postgres":
            return HealthcheckConfig(test='pg_isready -q -U "${POSTGRES_USER:-postgres}" -d "${POSTGRES_DB:-postgres}"')
        if self.kind == "redis":
            return HealthcheckConfig(test=["CMD", "redis-cli", "ping"])
        return None

    def secret_refs(self) -> set[str]:
        """Secret names this service needs: secretEnv, `${NAME}` in environment values, redis password."""
        names = set(self.secret_env)
        for value in self.environment.values():
            if isinstance(value, str):
                names |= set(SECRET_REF_RE.findall(value))
        if isinstance(self.config_files, RedisTuning) and self.config_files.password_secret:
            names.add(self.config_files.password_secret)
        return names


def strategy_problem(service: ServiceConfig) -> str | None:
    """Why `strategy: blue-green` cannot work for this service, or None."""
    if service.strategy != "blue-green":
        return None
    if service.expose is None:
        return "strategy blue-green needs expose: the proxy is what switches traffic between the two colours"
    if service.kind in ("postgres", "redis") or service.role == "db":
        return "strategy blue-green runs two containers of the service at once, which a database must not do (use recreate)"
    return None
