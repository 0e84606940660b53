"""The application stack: compose services, their resources, the reverse proxy and the deploy policy.

One `ServiceConfig` per compose service. Everything the host receives for the app (compose file,
postgresql.conf, redis.conf, proxy config, deploy script) is rendered from this model by `render/app.py`.

Checks come in three layers so every problem is reported with its own config path:
- field and model validators here (one service at a time);
- `AppConfig.role_issues(served_roles)`: checks across services (called by StackConfig's cross checks);
- `AppConfig.stack_issues(stack)`: checks that need other stack sections (servers, dns, load balancer).

`placement(stack)` says which services (including the proxy) run on which server: the capacity check
and the compose renderer both use it, so they can never disagree.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from config.base import DNS_LABEL_RE, ConfigModel, Port, Role
from config.compose_file import closest, compose_file_issues
from config.deploy_strategy import Strategy, strategy_problem
from config.errors import ConfigIssue
from config.formats import MAX_DNS_NAME, check_dns_length, check_image, check_postgres_value
from config.ops import Calendar
from config.paths import check_host_dir, normalise
from config.swarm import Engine, SwarmConfig

if TYPE_CHECKING:
    from config.schema import StackConfig

_MEMORY_RE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgG])?[bB]?$", re.ASCII)
_UNIT_MB = {"k": 1 / 1024, "m": 1, "g": 1024, None: 1 / (1024 * 1024)}
_REDIS_MEMORY_RE = re.compile(r"^(\d+) ?(b|k|kb|m|mb|g|gb)?$", re.IGNORECASE | re.ASCII)
_REDIS_UNITS = {"b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
_PG_SIZE_RE = re.compile(r"^\d+(kB|MB|GB|TB)$", re.ASCII)
_DURATION_RE = re.compile(r"^(\d+(ms|us|s|m|h))+$", re.ASCII)
_SERVICE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$", re.ASCII)
_SECRET_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$", re.ASCII)
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$", re.ASCII)
_VOLUME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$", re.ASCII)
_ABS_PATH_RE = re.compile(r"^/[A-Za-z0-9._/@+-]*$", re.ASCII)
_PG_SETTING_RE = re.compile(r"^[a-z_][a-z0-9_.]*$", re.ASCII)
_REDIS_SETTING_RE = re.compile(r"^[a-z][a-z0-9-]*$", re.ASCII)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", re.ASCII)
# `${NAME}` in an environment value refers to a secret; compose interpolates it from the env file.
SECRET_REF_RE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}", re.ASCII)
# Environment names that hold a secret ("DB_PASSWORD", "STRIPE_API_KEY"); *_FILE/_PATH name a file.
_SECRET_NAME_RE = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PASS|SECRET|TOKEN|APIKEY|CREDENTIALS?)(_|$)|(^|_)(API|PRIVATE|ACCESS|SECRET|MASTER)_KEY(_|$)",
    re.ASCII,
)
_NOT_SECRET_SUFFIXES = ("_FILE", "_PATH", "_DIR", "_URL_PATH", "_LENGTH", "_EXPIRY", "_TTL", "_ENABLED")
# scheme://user:password@host with a literal password (a `${NAME}` reference is fine).
_URL_PASSWORD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]*:(?P<password>[^@\s]+)@", re.ASCII)


def plain_secret_problem(key: str, value: str | int | float | bool) -> str | None:
    """Why a plain environment value looks like a secret (it would sit in the 0644 compose file), or None."""
    if not isinstance(value, str) or not value or SECRET_REF_RE.fullmatch(value.strip()):
        return None
    hint = "secrets go in secretEnv (values from appSecrets.<NAME>) and are referred to as ${NAME}"
    if _SECRET_NAME_RE.search(key.upper()) and not key.upper().endswith(_NOT_SECRET_SUFFIXES) and "${" not in value:
        return f"{key} looks like a secret written in plain text: {hint}"
    match = _URL_PASSWORD_RE.match(value)
    if match is not None and not SECRET_REF_RE.fullmatch(match.group("password")):
        return f"the URL holds a password in plain text: {hint}, e.g. postgresql://user:${{DB_PASSWORD}}@db/app"
    return None

ProxyKind = Literal["traefik", "nginx"]
# Names the renderer uses for its own compose services.
RESERVED_SERVICE_NAMES = ("traefik", "nginx", "certbot")
# The Cloudflare token the proxy needs for Let's Encrypt DNS-01; supplied by the Pulumi wiring.
CLOUDFLARE_TOKEN_SECRET = "CF_DNS_API_TOKEN"
DEFAULT_PROXY_IMAGES = {"traefik": "traefik:v3.3", "nginx": "nginx:1.27-alpine"}
CERTBOT_IMAGES = {"http-01": "certbot/certbot:v3.1.0", "dns-01": "certbot/dns-cloudflare:v3.1.0"}
# Compose keys a service may add through `extra` (everything else has a typed field or is the platform's).
EXTRA_COMPOSE_KEYS = (
    "cap_add", "cap_drop", "security_opt", "pid", "user", "working_dir", "labels", "ulimits", "tmpfs",
    "read_only", "init", "sysctls", "stop_signal", "group_add", "hostname", "shm_size",
)
POSTGRES_PORT = 5432
REDIS_PORT = 6379


def memory_mb(value: str) -> float:
    """Compose-style memory ("1.5G", "512M", "256m") in MiB."""
    match = _MEMORY_RE.fullmatch(value)
    if not match:
        raise ValueError(f"'{value}' is not a memory size such as 512M or 1.5G")
    number, unit = match.groups()
    return float(number) * _UNIT_MB[unit.lower() if unit else None]


def redis_memory_bytes(value: str) -> int:
    """Redis memory notation ("512mb", "8gb", "1000000") in bytes; k/m/g are powers of 1000 as in redis."""
    match = _REDIS_MEMORY_RE.fullmatch(value)
    if not match:
        raise ValueError(f"'{value}' is not a redis memory size such as 512mb or 8gb")
    number, unit = match.groups()
    return int(number) * _REDIS_UNITS[(unit or "b").lower()]


def _duration(value: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{value!r} is not a duration such as 10s, 1m30s or 500ms")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is not a duration")
        return f"{value}s"
    if not _DURATION_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not a duration such as 10s, 1m30s or 500ms")
    return value


def _abs_path(value: str) -> str:
    if not _ABS_PATH_RE.fullmatch(value) or value.rstrip("/") == "" or ".." in value.split("/"):
        raise ValueError(f"'{value}' must be an absolute path (letters, digits and . _ - / @ +)")
    return value.rstrip("/")


def _secret_name(value: str) -> str:
    if not _SECRET_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not a secret name: use UPPER_SNAKE_CASE such as DB_PASSWORD")
    return value


Duration = Annotated[str, Field(min_length=1)]


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

    @field_validator("interval", "timeout", "start_period", mode="before")
    @classmethod
    def _durations(cls, value: str | int) -> str:
        return _duration(value)

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


_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_tag(value: object) -> object:
    """A Docker tag. `pulumi config set --path` stores an integer such as 7 as a number ("integers are
    treated as numbers. All other values are treated as strings",
    https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/): taken as "7". An unquoted 1.10 in
    YAML is a float that lost a digit, so a float is refused with the way to write it as text."""
    if value is None:
        return None
    if isinstance(value, (bool, float)):
        raise ValueError(f"{value!r} is not text: quote it in YAML, or pulumi config set --path ... --type string")
    text = str(value)
    if not _TAG_RE.match(text):
        raise ValueError(f"'{text}' is not an image tag (letters, digits, _ . -; at most 128; not starting with . or -)")
    return text


def image_is_pinned(image: str) -> bool:
    """True when the reference names a tag or digest (`redis:7`, `x@sha256:...`; a registry port is not a tag)."""
    return "@" in image or ":" in image.rsplit("/", 1)[-1]


def check_host(value: str) -> str:
    value = value.lower().rstrip(".")
    if value != "@" and not all(DNS_LABEL_RE.fullmatch(label) for label in value.split(".")):
        raise ValueError(f"'{value}' is not a host: use '@', a subdomain such as 'api' or a full name")
    return check_dns_length(value)


class RedirectConfig(ConfigModel):
    """https://<from>/<path> answers with a permanent redirect to https://<to>/<path> (e.g. www -> apex)."""

    from_: str = Field(alias="from")
    to: str

    @field_validator("from_", "to")
    @classmethod
    def _hosts(cls, value: str) -> str:
        return check_host(value)

    @model_validator(mode="after")
    def _not_itself(self) -> RedirectConfig:
        if self.from_ == self.to:
            raise ValueError(f"'{self.from_}' would redirect to itself")
        return self


class ExposeConfig(ConfigModel):
    """How the proxy reaches the service: https://<host><path> -> http://<service>:<port>."""

    port: Port
    # "@" for the app's domain (default), a subdomain label ("api", "api.eu") or a full name.
    host: str = "@"
    # Several names served the same way (each gets its certificate, DNS check and TLS alert); replaces host.
    hosts: list[str] | None = None
    # Optional path prefix such as "/api": the router matches Host AND PathPrefix.
    path: str | None = None
    strip_prefix: bool = False
    # Secret holding one htpasswd line ("user:$2y$..." from `htpasswd -nbB user pass`): basic auth in the proxy.
    basic_auth_secret: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one host, or use host")
        names = [check_host(name) for name in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"hosts listed twice: {duplicates}")
        return names

    @model_validator(mode="after")
    def _host_or_hosts(self) -> ExposeConfig:
        if self.hosts is not None and "host" in self.model_fields_set:
            raise ValueError("set either host or hosts, not both")
        return self

    @property
    def names(self) -> list[str]:
        """Every host this service is served at, as configured ("@", "www", full names)."""
        return list(self.hosts) if self.hosts is not None else [self.host]

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"^/[A-Za-z0-9._~/-]*$", value, re.ASCII) or value == "/":
            raise ValueError(f"'{value}' is not a path prefix such as /api (no spaces, quotes or regex)")
        return value.rstrip("/")

    @field_validator("basic_auth_secret")
    @classmethod
    def _auth(cls, value: str | None) -> str | None:
        return None if value is None else _secret_name(value)


class PostgresTuning(ConfigModel):
    """postgresql.conf from the service's memory limit (see render/postgres.py for the formulas)."""

    kind: Literal["postgres"]
    max_connections: Annotated[int, Field(ge=5, le=10000)] = 100
    # Overrides of computed values, in postgres units ("16MB", "2GB").
    work_mem: str | None = None
    maintenance_work_mem: str | None = None
    max_wal_size: str = "2GB"
    min_wal_size: str = "1GB"
    log_min_duration_statement_ms: Annotated[int, Field(ge=-1, le=2_147_483_647)] = 1000
    # Extra or overriding postgresql.conf lines, e.g. {shared_preload_libraries: pg_stat_statements}.
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("work_mem", "maintenance_work_mem", "max_wal_size", "min_wal_size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None and not _PG_SIZE_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a postgres size such as 16MB or 2GB (units kB, MB, GB, TB)")
        return value

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, setting in value.items():
            if not _PG_SETTING_RE.fullmatch(key):
                raise ValueError(f"'{key}' is not a postgresql.conf parameter name")
            check_postgres_value(key, setting)
        return value


class RedisTuning(ConfigModel):
    """redis.conf: memory cap, eviction policy and persistence."""

    kind: Literal["redis"]
    # Redis notation ("512mb", "8gb"); None: 75 % of the memory limit with persistence, 90 % without.
    maxmemory: str | None = None
    maxmemory_policy: Literal[
        "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
    ] = "noeviction"
    persistence: Literal["rdb", "aof", "none"] = "rdb"
    # RDB snapshot rules ("<seconds> <changes>"); default 900 1 / 300 10 / 60 10000.
    save: list[str] | None = None
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    tcp_backlog: Annotated[int, Field(ge=1, le=65535)] = 511
    timeout: Annotated[int, Field(ge=0, le=31_536_000)] = 0
    # Secret holding the password (requirepass); required when Redis is reachable from other servers.
    password_secret: str | None = None
    settings: dict[str, str | int] = Field(default_factory=dict)

    @field_validator("maxmemory")
    @classmethod
    def _maxmemory(cls, value: str | None) -> str | None:
        if value is not None:
            redis_memory_bytes(value)
            return value.strip().lower().replace(" ", "")
        return value

    @field_validator("save")
    @classmethod
    def _save(cls, value: list[str] | None) -> list[str] | None:
        for rule in value or []:
            if not re.fullmatch(r"^\d+ \d+$", rule, re.ASCII):
                raise ValueError(f"save rule '{rule}' must be '<seconds> <changes>' such as '900 1'")
        return value

    @field_validator("password_secret")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        return None if value is None else _secret_name(value)

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, setting in value.items():
            if not _REDIS_SETTING_RE.fullmatch(key):
                raise ValueError(f"'{key}' is not a redis.conf directive name")
            if key in ("requirepass", "masterauth"):
                raise ValueError(f"'{key}' would put a secret in redis.conf: use passwordSecret")
            # redis.conf splits a line into words with quotes and backslash escapes of its own.
            if re.search(r"[\x00-\x1f\x7f\"'\\]", str(setting)):
                raise ValueError(f"the value of '{key}' must be one line without quotes, backslashes or control characters")
        return value


class GenericFiles(ConfigModel):
    """Plain files mounted read-only into the container: {container path: content}."""

    kind: Literal["generic"]
    files: dict[str, str] = Field(min_length=1)

    @field_validator("files")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        return {_abs_path(path): content for path, content in value.items()}


ConfigFiles = Annotated[PostgresTuning | RedisTuning | GenericFiles, Field(discriminator="kind")]
DependsCondition = Literal["started", "healthy", "completed"]
_CONDITIONS = {
    "service_started": "started",
    "service_healthy": "healthy",
    "service_completed_successfully": "completed",
}


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
        mounts = {normalise(host): _abs_path(target) for host, target in value.items()}
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
            if not _ENV_KEY_RE.fullmatch(key):
                raise ValueError(f"'{key}' is not an environment variable name")
        return value

    @field_validator("secret_env")
    @classmethod
    def _secret_env(cls, value: list[str]) -> list[str]:
        for name in value:
            _secret_name(name)
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"secrets listed twice: {duplicates}")
        return value

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            if not _VOLUME_RE.fullmatch(name):
                raise ValueError(f"volume name '{name}' must be lowercase letters, digits, . _ -")
            _abs_path(path)
        targets = list(value.values())
        duplicates = sorted({path for path in targets if targets.count(path) > 1})
        if duplicates:
            raise ValueError(f"container paths mounted twice: {duplicates}")
        return value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _depends(cls, value: Any) -> Any:
        # Accept a plain list (condition "started") and compose's long condition names.
        if isinstance(value, list):
            return {name: "started" for name in value}
        if isinstance(value, dict):
            return {name: _CONDITIONS.get(str(cond), cond) for name, cond in value.items()}
        return value

    @field_validator("stop_grace_period", mode="before")
    @classmethod
    def _grace(cls, value: str | int | None) -> str | None:
        return None if value is None else _duration(value)

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


class RateLimit(ConfigModel):
    # Requests per second per client address, with a burst allowance (seed 000: 10 r/s, burst 20).
    average: Annotated[int, Field(ge=1, le=100000)]
    burst: Annotated[int, Field(ge=1, le=100000)]


class ProxyConfig(ConfigModel):
    kind: ProxyKind = "traefik"
    image: str | None = None  # default: DEFAULT_PROXY_IMAGES[kind]
    limits: ResourceLimits = Field(default_factory=lambda: ResourceLimits(cpus=0.25, memory="128M"))
    reservations: ResourceLimits | None = Field(default_factory=lambda: ResourceLimits(cpus=0.1, memory="64M"))
    rate_limit: RateLimit | None = None
    hsts_seconds: Annotated[int, Field(ge=0, le=63_072_000)] = 31536000
    # nginx only (client_max_body_size); Traefik has no body limit by default.
    max_body_size: str | None = None
    # Let's Encrypt certificates in the proxy; false: the default self-signed cert (tests, no DNS yet).
    acme: bool = True

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image(value)

    @field_validator("max_body_size")
    @classmethod
    def _body(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"^\d+[kKmMgG]?$", value, re.ASCII):
            raise ValueError(f"'{value}' is not an nginx size such as 100m or 2G")
        return value

    @property
    def resolved_image(self) -> str:
        return self.image or DEFAULT_PROXY_IMAGES[self.kind]


class DeployConfig(ConfigModel):
    # The HTTP health check after `up --wait`: attempts, seconds between them, seconds per request.
    health_retries: Annotated[int, Field(ge=1, le=600)] = 30
    health_interval_s: Annotated[int, Field(ge=1, le=60)] = 2
    health_timeout_s: Annotated[int, Field(ge=1, le=120)] = 10
    # Seconds `docker compose up --wait` waits for every container to be running/healthy.
    wait_timeout_s: Annotated[int, Field(ge=10, le=3600)] = 300
    # Release directories kept under /opt/<project>/releases (current and previous always kept).
    keep_releases: Annotated[int, Field(ge=2, le=50)] = 5
    # Blue-green: seconds in-flight requests get on the old colour after the switch, and minutes its
    # stopped containers are kept for `hp-rollback` (config/deploy_strategy.py).
    drain_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 30
    keep_previous_minutes: Annotated[int, Field(ge=0, le=10080)] = 1440


_REGISTRY_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$")
_REGISTRY_USER_RE = re.compile(r"^[^\s:]{1,256}$")


class RegistryConfig(ConfigModel):
    """A private registry the host logs in to before `docker compose pull` (key: its host, e.g. ghcr.io)."""

    username: str
    # Secret holding the password or access token (appSecrets.<NAME>): a GitHub PAT with read:packages,
    # a GitLab deploy token, a Docker Hub access token.
    password_secret: str

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not _REGISTRY_USER_RE.match(value):
            raise ValueError(f"'{value}' is not a registry user name (no spaces or ':')")
        return value

    @field_validator("password_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        return _secret_name(value)


_SYSTEMD_SPAN_RE = re.compile(r"^(\d+(us|ms|s|min|h|d))+$")


class JobConfig(ConfigModel):
    """A scheduled one-off container of an app service (its image, environment, networks and volumes)."""

    # systemd OnCalendar expression, e.g. "*-*-* 03:00:00" (nightly) or "Mon *-*-* 06:00:00".
    schedule: Calendar
    service: str
    command: str | list[str]
    # systemd time span: the run is stopped (and alerted) after this long.
    timeout: str = "1h"

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | list[str]) -> str | list[str]:
        words = value if isinstance(value, list) else _split_words(value)
        if not words or any("\n" in word or "\0" in word for word in words):
            raise ValueError("the command is empty or spans lines")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        if not _SYSTEMD_SPAN_RE.match(value):
            raise ValueError(f"'{value}' is not a systemd time span such as 30min, 2h or 1h30min")
        return value

    @property
    def args(self) -> list[str]:
        return list(self.command) if isinstance(self.command, list) else _split_words(self.command)


def _split_words(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"cannot be split into words: {exc}") from None


class AppConfig(ConfigModel):
    # compose: one compose project per server; swarm: one Docker Swarm stack across the servers (config/swarm.py).
    engine: Engine = "compose"
    swarm: SwarmConfig = Field(default_factory=SwarmConfig)
    # The version to ship: every service whose image has no tag runs this tag (unless it sets its own tag).
    # `pulumi config set --path hetzner-platform:app.release 1.4.3`
    release: str | None = None
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    # Scheduled jobs by name: a systemd timer per job runs a one-off container of the job's service.
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    # Private registries by host ("ghcr.io", "registry.gitlab.com", "docker.io" for Docker Hub).
    registries: dict[str, RegistryConfig] = Field(default_factory=dict)
    # Host names that only redirect (permanent) to another one, e.g. {from: www, to: "@"}.
    redirects: list[RedirectConfig] = Field(default_factory=list)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    acme_email: str | None = None
    # Base domain for expose.host when there is no `dns` section (with dns: dns.zone).
    domain: str | None = None
    # Where service volumes live on the host; default /mnt/data/<project>.
    data_dir: str | None = None
    # A compose file of your own (path relative to the Pulumi project directory): its services get
    # our limits, networks and secrets; host ports are stripped (only the proxy publishes).
    compose_file: str | None = None
    # Run before switching releases, in a one-off container of migrateService (default: the first
    # exposed service), e.g. "alembic upgrade head".
    migrate_command: str | list[str] | None = None
    migrate_service: str | None = None
    # Checked after deploy: a path on the primary host ("/api/v1/health") or a full URL.
    # Default: https://<first exposed host><its path>/health.
    health_url: str | None = None
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    # Secrets the program may generate once (pulumi-random, letters and digits) when appSecrets.<NAME>
    # is not set; every other secret must be set. Never an htpasswd line or a third-party API key.
    generate_secrets: list[str] = Field(default_factory=list)

    @field_validator("release", mode="before")
    @classmethod
    def _release(cls, value: object) -> object:
        return check_tag(value)

    @model_validator(mode="after")
    def _apply_release(self) -> AppConfig:
        """Give every untagged image its tag (or the release) once, so every reader sees the image that runs."""
        resolved = {}
        for name, service in self.services.items():
            tag = service.tag or self.release
            if service.image and not image_is_pinned(service.image) and tag is not None:
                service = service.model_copy(update={"image": f"{service.image}:{tag}", "tag": None})
            resolved[name] = service
        # The models are frozen; this runs once, during validation.
        object.__setattr__(self, "services", resolved)
        return self

    @model_validator(mode="after")
    def _swarm_rolls_out_itself(self) -> AppConfig:
        """With app.engine swarm, `docker stack deploy` replaces tasks itself (start-first, app.swarm.update):
        every service without a strategy of its own is recreate, so no compose colours are rendered.
        An explicit blue-green is refused in config/swarm.py."""
        if self.engine == "swarm":
            resolved = {name: service if service.strategy is not None else service.model_copy(update={"strategy": "recreate"})
                        for name, service in self.services.items()}
            object.__setattr__(self, "services", resolved)
        return self

    @field_validator("jobs")
    @classmethod
    def _job_names(cls, value: dict[str, JobConfig]) -> dict[str, JobConfig]:
        for name in value:
            if not _SERVICE_RE.match(name):
                raise ValueError(f"job name '{name}' must be lowercase letters, digits, _ or -, starting with a letter")
        return value

    @field_validator("registries")
    @classmethod
    def _registries(cls, value: dict[str, RegistryConfig]) -> dict[str, RegistryConfig]:
        for host in value:
            if not _REGISTRY_RE.match(host) or ("." not in host.split(":")[0] and not host.startswith("localhost")):
                raise ValueError(f"'{host}' is not a registry host such as ghcr.io or registry.gitlab.com:5050")
        return value

    @field_validator("generate_secrets")
    @classmethod
    def _generate(cls, value: list[str]) -> list[str]:
        for name in value:
            _secret_name(name)
        return value

    @field_validator("services")
    @classmethod
    def _names(cls, value: dict[str, ServiceConfig]) -> dict[str, ServiceConfig]:
        for name in value:
            if not _SERVICE_RE.fullmatch(name):
                raise ValueError(f"service name '{name}' must be lowercase letters, digits, _ or -, starting with a letter")
        return value

    @field_validator("acme_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not an e-mail address")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower().rstrip(".")
        labels = value.split(".")
        if len(labels) < 2 or not all(DNS_LABEL_RE.fullmatch(label) for label in labels):
            raise ValueError(f"'{value}' is not a domain name")
        return check_dns_length(value)

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: str | None) -> str | None:
        return None if value is None else check_host_dir(value)

    @field_validator("migrate_command")
    @classmethod
    def _migrate(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, str):
            try:
                if not shlex.split(value):
                    raise ValueError("migrateCommand is empty")
            except ValueError as exc:
                raise ValueError(f"migrateCommand cannot be split into words: {exc}") from None
        elif isinstance(value, list) and not value:
            raise ValueError("migrateCommand is empty")
        return value

    @field_validator("health_url")
    @classmethod
    def _health_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("/"):
            if re.search(r"[\s'\"`$\\]", value):
                raise ValueError(f"'{value}' is not a URL path")
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"[\s'\"`$\\]", value):
            raise ValueError(f"'{value}' must be a path such as /health or an http(s) URL")
        return value

    # --- cross-service checks (no other stack section needed) ---------------------------------
    def role_issues(self, served_roles: set[str]) -> list[ConfigIssue]:
        issues = [
            ConfigIssue(f"app.services.{name}.role", f"no server has the '{service.role}' role")
            for name, service in self.services.items()
            if service.role not in served_roles and service.server is None
        ]
        return issues + self.service_issues()

    def service_issues(self) -> list[ConfigIssue]:
        issues: list[ConfigIssue] = []
        declared = self.declared_secrets()
        for name, service in self.services.items():
            path = f"app.services.{name}"
            if name in RESERVED_SERVICE_NAMES:
                issues.append(ConfigIssue(path, f"'{name}' is reserved for the proxy the platform runs (app.proxy)"))
            if not service.image and self.compose_file is None:
                issues.append(ConfigIssue(f"{path}.image", "required key is missing (or set app.composeFile)"))
            for target, condition in service.depends_on.items():
                if target == name:
                    issues.append(ConfigIssue(f"{path}.dependsOn.{target}", "a service cannot depend on itself"))
                elif target not in self.services:
                    issues.append(ConfigIssue(
                        f"{path}.dependsOn.{target}", f"no service named '{target}'{closest(target, set(self.services))}"
                    ))
                elif condition == "healthy" and self.services[target].default_healthcheck() is None:
                    issues.append(ConfigIssue(
                        f"{path}.dependsOn.{target}", f"condition healthy needs a healthcheck on '{target}' (add one)"
                    ))
            for key, value in service.environment.items():
                problem = plain_secret_problem(key, value)
                if problem is not None:
                    issues.append(ConfigIssue(f"{path}.environment.{key}", problem))
                if isinstance(value, str):
                    for ref in SECRET_REF_RE.findall(value):
                        if ref not in declared:
                            issues.append(ConfigIssue(
                                f"{path}.environment.{key}",
                                f"refers to ${{{ref}}}, which no service declares in secretEnv",
                            ))
        htpasswd = {
            service.expose.basic_auth_secret for service in self.services.values()
            if service.expose is not None and service.expose.basic_auth_secret
        }
        registry_secrets = {registry.password_secret for registry in self.registries.values()}
        for index, name in enumerate(self.generate_secrets):
            if name in registry_secrets:
                issues.append(ConfigIssue(
                    f"app.generateSecrets[{index}]", f"{name} is a registry token (app.registries): set it, it cannot be generated"
                ))
            elif name not in declared:
                issues.append(ConfigIssue(f"app.generateSecrets[{index}]", f"no service uses a secret named {name}"))
            elif name in htpasswd:
                issues.append(ConfigIssue(
                    f"app.generateSecrets[{index}]", f"{name} is an htpasswd line (basicAuthSecret): set it, it cannot be generated"
                ))
        issues += self._cycle_issues()
        issues += self._route_issues()
        for name, job in self.jobs.items():
            if job.service not in self.services:
                issues.append(ConfigIssue(f"app.jobs.{name}.service", f"no service named '{job.service}'"))
        if self.migrate_command is not None:
            migrate_in = self.migrate_target()
            if migrate_in is None:
                issues.append(ConfigIssue("app.migrateService", "migrateCommand needs a service to run in: set migrateService"))
            elif migrate_in not in self.services:
                issues.append(ConfigIssue(
                    "app.migrateService", f"no service named '{migrate_in}'{closest(migrate_in, set(self.services))}"
                ))
        elif self.migrate_service is not None:
            issues.append(ConfigIssue("app.migrateService", "set migrateCommand too (the command to run)"))
        if self.exposed() and self.acme_email is None and self.proxy.acme:
            issues.append(ConfigIssue("app.acmeEmail", "required for Let's Encrypt when services are exposed"))
        return issues

    def _cycle_issues(self) -> list[ConfigIssue]:
        state: dict[str, int] = {}
        found: list[ConfigIssue] = []

        def visit(name: str, trail: list[str]) -> None:
            state[name] = 1
            for target in self.services[name].depends_on:
                if target not in self.services or target == name:
                    continue
                if state.get(target) == 1:
                    cycle = [*trail[trail.index(target):], target] if target in trail else [name, target]
                    found.append(ConfigIssue(f"app.services.{name}.dependsOn", f"dependency cycle: {' -> '.join(cycle)}"))
                elif state.get(target) is None:
                    visit(target, [*trail, target])
            state[name] = 2

        for name in self.services:
            if name not in state:
                visit(name, [name])
        return found

    def _route_issues(self) -> list[ConfigIssue]:
        issues: list[ConfigIssue] = []
        seen: dict[tuple[str, str], str] = {}
        for name, service in self.exposed().items():
            assert service.expose is not None
            for host in service.expose.names:
                key = (host, service.expose.path or "")
                if key in seen:
                    issues.append(ConfigIssue(
                        f"app.services.{name}.expose", f"host '{key[0]}' path '{key[1] or '/'}' is already routed to '{seen[key]}'"
                    ))
                seen[key] = name
        served = {host for host, _ in seen}
        sources = [redirect.from_ for redirect in self.redirects]
        for index, redirect in enumerate(self.redirects):
            path = f"app.redirects[{index}]"
            if redirect.from_ in served:
                issues.append(ConfigIssue(f"{path}.from", f"'{redirect.from_}' is served by a service; it cannot also redirect"))
            if sources.count(redirect.from_) > 1:
                issues.append(ConfigIssue(f"{path}.from", f"'{redirect.from_}' redirects twice"))
            if redirect.to not in served:
                issues.append(ConfigIssue(f"{path}.to", (
                    f"'{redirect.to}' is not a host of any exposed service (expose.host or expose.hosts), so the redirect "
                    "would lead nowhere"
                )))
        return issues

    def served_hosts(self) -> list[str]:
        """Every host the proxy answers with a certificate: exposed services' hosts, then redirect sources."""
        names: list[str] = []
        for service in self.exposed().values():
            assert service.expose is not None
            names += [host for host in service.expose.names if host not in names]
        return names + [redirect.from_ for redirect in self.redirects if redirect.from_ not in names]

    # --- checks that need the rest of the stack -----------------------------------------------
    def stack_issues(self, stack: StackConfig) -> list[ConfigIssue]:
        """Checks against servers, dns, load balancer and ssh; StackConfig's cross checks call this."""
        issues: list[ConfigIssue] = []
        for name, service in self.services.items():
            path = f"app.services.{name}"
            if service.server is not None and service.server not in stack.servers:
                issues.append(ConfigIssue(
                    f"{path}.server", f"no server named '{service.server}'{closest(service.server, set(stack.servers))}"
                ))
                continue
            candidates = _candidate_servers(stack, service)
            if service.stateful and service.server is None and len(candidates) > 1:
                issues.append(ConfigIssue(
                    f"{path}.server",
                    f"stateful service (volumes or a database) and {len(candidates)} servers have the "
                    f"'{service.role}' role ({', '.join(candidates)}): pin it with server",
                ))
        exposed = self.exposed()
        if self.jobs and not (stack.ops.enabled and stack.ops.alerts.enabled):
            issues.append(ConfigIssue("app.jobs", (
                "jobs are installed by the ops step and report failures through its alerts: keep ops.enabled and "
                "ops.alerts.enabled true"
            )))
        if self.redirects and not exposed:
            issues.append(ConfigIssue("app.redirects", "redirects need an exposed service (the proxy runs with it)"))
        if exposed and self.domain is None and stack.dns is None:
            issues.append(ConfigIssue("app.domain", "exposed services need a domain: set app.domain or a dns section"))
        where = placement_names(stack)
        proxy_servers = [server for server, names in where.items() if any(n in exposed for n in names)]
        lb = stack.load_balancer
        if lb is not None:
            targets = set(stack.servers_with_role(lb.target_role))
            for name, service in exposed.items():
                off = [s for s in where if name in where[s] and s not in targets]
                if off and not service.admin_only:
                    issues.append(ConfigIssue(
                        f"app.services.{name}.role",
                        f"exposed but placed on {', '.join(off)}, which the load balancer does not target "
                        f"(targetRole {lb.target_role})",
                    ))
            if any(service.proxy_protocol for service in lb.services) and not lb.use_private_ip:
                issues.append(ConfigIssue(
                    "loadBalancer.usePrivateIp",
                    "PROXY protocol needs the load balancer's private address: the proxy trusts only that address",
                ))
        if stack.dns is not None:
            for index, redirect in enumerate(self.redirects):
                if dns_record_for(stack, redirect.from_) is None:
                    issues.append(ConfigIssue(
                        f"app.redirects[{index}].from",
                        f"{service_fqdn(stack, redirect.from_)} has no record in dns.records (add '{redirect.from_}')",
                    ))
            for name, service in exposed.items():
                assert service.expose is not None
                for position, host in enumerate(service.expose.names):
                    record = dns_record_for(stack, host)
                    fqdn = service_fqdn(stack, host)
                    field = "expose.host" if service.expose.hosts is None else f"expose.hosts[{position}]"
                    if len(fqdn) > MAX_DNS_NAME:
                        issues.append(ConfigIssue(f"app.services.{name}.{field}", f"{fqdn} is longer than {MAX_DNS_NAME} characters"))
                        continue
                    if record is None:
                        issues.append(ConfigIssue(
                            f"app.services.{name}.{field}", f"{fqdn} has no record in dns.records (add '{host}' or a wildcard)",
                        ))
                    elif service.admin_only and stack.dns.is_proxied(record):
                        issues.append(ConfigIssue(
                            f"app.services.{name}.adminOnly",
                            f"{fqdn} is proxied by Cloudflare, so the proxy sees Cloudflare's addresses and the "
                            "admin allow-list would block everyone: give it a record with proxied: false",
                        ))
        if len(proxy_servers) > 1 and stack.dns is None and self.proxy.acme:
            issues.append(ConfigIssue(
                "app.proxy",
                f"the proxy runs on {len(proxy_servers)} servers: Let's Encrypt HTTP-01 behind a load balancer "
                "fails randomly; configure dns (Cloudflare) so DNS-01 is used",
            ))
        hosting = [server for server, names in where.items() if names]
        if stack.network is not None and len(hosting) > 1:
            for name, service in self.services.items():
                if isinstance(service.config_files, RedisTuning) and service.config_files.password_secret is None:
                    issues.append(ConfigIssue(
                        f"app.services.{name}.configFiles.passwordSecret",
                        "Redis is published on the private network of a multi-server stack: set a password secret",
                    ))
        if self.compose_file is not None:
            issues += compose_file_issues(self.compose_file, self.services)
        return issues

    # --- derived views ------------------------------------------------------------------------
    def exposed(self) -> dict[str, ServiceConfig]:
        return {name: service for name, service in self.services.items() if service.expose is not None}

    def migrate_target(self) -> str | None:
        if self.migrate_service is not None:
            return self.migrate_service
        public = [name for name, service in self.exposed().items() if not service.admin_only]
        return public[0] if public else None

    def migrate_args(self) -> list[str]:
        if self.migrate_command is None:
            return []
        return shlex.split(self.migrate_command) if isinstance(self.migrate_command, str) else list(self.migrate_command)

    def declared_secrets(self) -> set[str]:
        names: set[str] = set()
        for service in self.services.values():
            names |= set(service.secret_env)
            if service.expose is not None and service.expose.basic_auth_secret:
                names.add(service.expose.basic_auth_secret)
            if isinstance(service.config_files, RedisTuning) and service.config_files.password_secret:
                names.add(service.config_files.password_secret)
        return names

    def resolved_data_dir(self, project: str) -> str:
        return self.data_dir or f"/mnt/data/{project}"

    def proxy_services(self) -> dict[str, ServiceConfig]:
        """The compose services the platform adds for the proxy (for capacity and rendering)."""
        proxy = self.proxy
        main = ServiceConfig(image=proxy.resolved_image, role="web", limits=proxy.limits, reservations=proxy.reservations)
        if proxy.kind == "traefik":
            return {"traefik": main}
        services = {"nginx": main}
        if proxy.acme:
            services["certbot"] = ServiceConfig(
                image=CERTBOT_IMAGES["http-01"], role="web",
                limits=ResourceLimits(cpus=0.1, memory="64M"), reservations=ResourceLimits(cpus=0.05, memory="32M"),
            )
        return services


# --- placement: which service runs on which server ----------------------------------------------

def _candidate_servers(stack: StackConfig, service: ServiceConfig) -> list[str]:
    if service.server is not None:
        return [service.server] if service.server in stack.servers else []
    return stack.servers_with_role(service.role)


def placement_names(stack: StackConfig) -> dict[str, list[str]]:
    """server -> app service names (without the proxy), in app.services order.

    A service runs on every server with its role (web replicas behind the load balancer, more
    workers); a stateful one (volumes, postgres, redis) only on the first; `server` pins it.
    """
    result: dict[str, list[str]] = {name: [] for name in stack.servers}
    for name, service in stack.app.services.items():
        candidates = _candidate_servers(stack, service)
        if service.stateful:
            candidates = candidates[:1]
        for server in candidates:
            result[server].append(name)
    return result


def placement(stack: StackConfig) -> dict[str, dict[str, ServiceConfig]]:
    """server -> {compose service name: ServiceConfig}, proxy services included.

    Use this for capacity: the sum of `limits` per server is what the compose files reserve.
    With app.engine swarm, every replica the swarm places on a server (spec/swarm.py).
    """
    if stack.app.engine == "swarm":
        from spec.swarm import swarm_placement  # spec builds on config

        return swarm_placement(stack)
    exposed = stack.app.exposed()
    result: dict[str, dict[str, ServiceConfig]] = {}
    for server, names in placement_names(stack).items():
        services = {name: stack.app.services[name] for name in names}
        if any(name in exposed for name in names):
            services.update(stack.app.proxy_services())
        result[server] = services
    return result


def service_homes(where: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Service name -> the first server (stack-file order) that runs it, from a placement."""
    home: dict[str, str] = {}
    for server, names in where.items():
        for name in names:
            home.setdefault(name, server)
    return home


def domain_of(stack: StackConfig) -> str | None:
    if stack.app.domain is not None:
        return stack.app.domain
    return stack.dns.zone if stack.dns is not None else None


def service_fqdn(stack: StackConfig, host: str) -> str:
    domain = domain_of(stack) or "localhost"
    if host == "@":
        return domain
    if host == domain or host.endswith("." + domain):
        return host
    if stack.dns is None and stack.app.domain is None:
        return host
    return f"{host}.{domain}"


def dns_record_for(stack: StackConfig, host: str) -> Any:
    """The dns.records entry that covers `host` (exact name first, then a wildcard), or None."""
    if stack.dns is None:
        return None
    fqdn = service_fqdn(stack, host)
    exact = [record for record in stack.dns.records if stack.dns.fqdn(record) == fqdn]
    if exact:
        return exact[0]
    for record in stack.dns.records:
        name = stack.dns.fqdn(record)
        if name.startswith("*.") and fqdn.endswith(name[1:]) and "." not in fqdn[: -len(name) + 1]:
            return record
    return None


def host_is_proxied(stack: StackConfig, host: str) -> bool:
    record = dns_record_for(stack, host)
    return bool(stack.dns is not None and record is not None and stack.dns.is_proxied(record))


def acme_challenge(stack: StackConfig, host: str) -> str:
    """Let's Encrypt challenge for one exposed host.

    'dns-01' (Cloudflare token) when the host's record is Cloudflare-proxied (HTTP-01 cannot reach the
    origin reliably) or when the proxy runs on several servers behind a load balancer (the HTTP-01
    request may land on the other server); 'http-01' otherwise.
    """
    if stack.dns is None:
        return "http-01"
    proxy_servers = [s for s, services in placement(stack).items() if any(n in RESERVED_SERVICE_NAMES for n in services)]
    if len(proxy_servers) > 1:
        return "dns-01"
    return "dns-01" if host_is_proxied(stack, host) else "http-01"
