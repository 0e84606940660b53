"""Configuration files the platform writes for a service: tuned postgresql.conf and redis.conf, and plain
files mounted into the container (`configFiles`)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from config.app_values import PG_SETTING_RE, PG_SIZE_RE, REDIS_SETTING_RE, check_abs_path, check_secret_name, redis_memory_bytes
from config.base import ConfigModel
from config.formats import check_postgres_value


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
        if value is not None and not PG_SIZE_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a postgres size such as 16MB or 2GB (units kB, MB, GB, TB)")
        return value

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, setting in value.items():
            if not PG_SETTING_RE.fullmatch(key):
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
        return None if value is None else check_secret_name(value)

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, setting in value.items():
            if not REDIS_SETTING_RE.fullmatch(key):
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
        return {check_abs_path(path): content for path, content in value.items()}


ConfigFiles = Annotated[PostgresTuning | RedisTuning | GenericFiles, Field(discriminator="kind")]
