"""redis.conf from the Redis service's memory limit and tuning.

maxmemory: as configured (e.g. the 512mb of seed 000, the MVP setup in docs/sources.md), else 75 % of the memory limit when Redis persists
(RDB/AOF rewrites fork and copy pages) and 90 % without persistence, so the container limit always
leaves headroom for Redis' own overhead. The password never goes into this file nor on Redis' command
line (where `docker inspect` and the process list show it): this file includes AUTH_CONF, a secret file
of the release mounted read-only (render/secret_files.py), and the healthcheck's redis-cli reads
AUTH_PASSWORD into REDISCLI_AUTH for itself only.
"""

from __future__ import annotations

from config.app_files import RedisTuning
from config.app_service import HealthcheckConfig, ServiceConfig
from render.secret_files import SECRETS_DIR, SecretFile

CONTAINER_PATH = "/usr/local/etc/redis/redis.conf"
AUTH_DIR = "/usr/local/etc/redis/auth"  # the release's secrets/<service> directory, read-only
AUTH_CONF = f"{AUTH_DIR}/auth.conf"
AUTH_PASSWORD = f"{AUTH_DIR}/password"
# The `redis` user of the official images (docker-library/redis, e.g. 7.2/alpine/Dockerfile:
# `adduser -S -G redis -u 999 redis`; 7.2/debian/Dockerfile: `useradd -r -g redis -u 999 redis`); the
# entrypoint drops to it before redis-server reads its configuration.
REDIS_UID = 999
DEFAULT_SAVE = ("900 1", "300 10", "60 10000")


def redis_maxmemory(service: ServiceConfig) -> str:
    tuning = service.config_files
    if not isinstance(tuning, RedisTuning):
        raise ValueError("the service has no redis configFiles")
    if tuning.maxmemory is not None:
        return tuning.maxmemory
    share = 0.9 if tuning.persistence == "none" else 0.75
    return f"{int(service.limits.memory_mb * share)}mb"


def redis_settings(service: ServiceConfig) -> list[tuple[str, str]]:
    tuning = service.config_files
    if not isinstance(tuning, RedisTuning):
        raise ValueError("the service has no redis configFiles")
    lines: list[tuple[str, str]] = [
        # Inside the container: reachable on the compose networks only (never published to the internet).
        ("bind", "* -::*"),
        ("protected-mode", "no"),
        ("port", "6379"),
        ("maxmemory", redis_maxmemory(service)),
        ("maxmemory-policy", tuning.maxmemory_policy),
    ]
    if tuning.persistence == "rdb":
        lines += [("save", rule) for rule in (tuning.save if tuning.save is not None else DEFAULT_SAVE)]
        lines.append(("appendonly", "no"))
    elif tuning.persistence == "aof":
        if tuning.save:
            lines += [("save", rule) for rule in tuning.save]
        else:
            lines.append(("save", '""'))
        lines += [("appendonly", "yes"), ("appendfsync", tuning.appendfsync)]
    else:
        lines += [("save", '""'), ("appendonly", "no")]
    lines += [("tcp-backlog", str(tuning.tcp_backlog)), ("timeout", str(tuning.timeout))]
    lines += [(key, str(value)) for key, value in tuning.settings.items()]
    if tuning.password_secret:
        lines.append(("include", AUTH_CONF))
    return lines


def auth_files(name: str, service: ServiceConfig) -> list[SecretFile]:
    """The secret files the service mounts at AUTH_DIR (none without a password)."""
    tuning = service.config_files
    if not isinstance(tuning, RedisTuning) or not tuning.password_secret:
        return []
    directory = f"{SECRETS_DIR}/{name}"
    return [
        SecretFile(f"{directory}/auth.conf", tuning.password_secret, "redis-conf", REDIS_UID),
        SecretFile(f"{directory}/password", tuning.password_secret, "raw", REDIS_UID),
    ]


def authenticated_healthcheck() -> HealthcheckConfig:
    """`redis-cli ping` with the password from the mounted file, in redis-cli's environment only."""
    return HealthcheckConfig(test=f'REDISCLI_AUTH="$(cat {AUTH_PASSWORD})" redis-cli ping | grep -qx PONG')


def render_redis_conf(name: str, service: ServiceConfig) -> str:
    header = [
        f"# redis.conf for service '{name}', rendered by hetzner-platform (memory limit {service.limits.memory}).",
        "# Edit app.services.<name>.configFiles in the stack config, not this file.",
        "",
    ]
    return "\n".join(header + [f"{key} {value}" for key, value in redis_settings(service)]) + "\n"
