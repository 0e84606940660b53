"""The compose entry of one app service: the user's compose entry (app.composeFile) if any, overlaid with
the stack's image, command, environment, volumes, config files, healthcheck and resources.

Shared by the compose files (render/compose.py) and the swarm stack file (render/swarm_stack.py), which
adds its networks, ports and dependencies itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.app_files import GenericFiles, PostgresTuning, RedisTuning
from config.app_service import HealthcheckConfig, ServiceConfig
from config.schema import StackConfig
from render import postgres, redis
from render.compose_render import ComposeRender
from render.compose_values import deploy_resources, env_value, literal, normalise_env, secret_ref


def service_entry(
    stack: StackConfig, name: str, svc: ServiceConfig, base: dict[str, Any] | None, result: ComposeRender, data_dir: str
) -> dict[str, Any]:
    """The entry of app service `name` (`base`: its entry in the user's compose file); records the data
    dirs, config files and secret files it needs in `result`."""
    entry = _from_user_compose(name, svc, base) if base is not None else {}
    if svc.image:
        entry["image"] = svc.image
    if "image" not in entry:
        raise ValueError(f"app.services.{name}.image: no image (neither in the stack config nor in the compose file)")
    if svc.entrypoint is not None:
        entry["entrypoint"] = literal(svc.entrypoint)

    volumes: list[Any] = list(entry.pop("volumes", []) or [])
    for volume, target in svc.volumes.items():
        source = f"{data_dir}/{volume}"
        result.data_dirs.append(source)
        volumes.append({"type": "bind", "source": source, "target": target})

    command: Any = literal(svc.command) if svc.command is not None else entry.get("command")
    environment: dict[str, Any] = normalise_env(entry.pop("environment", None))
    command = _mount_config_files(stack, name, svc, entry, result, volumes, command)
    if command is not None:
        entry["command"] = command

    for key, value in svc.environment.items():
        environment[key] = env_value(value)
    for secret in svc.secret_env:
        environment[secret] = secret_ref(secret)
    if environment:
        entry["environment"] = environment
    for host_path, target in svc.host_mounts.items():
        volumes.append({"type": "bind", "source": host_path, "target": target, "read_only": True})
    if volumes:
        entry["volumes"] = volumes
    for key, value in svc.extra.items():
        entry[key] = literal(value)
    health = _healthcheck(svc)
    if health is not None:
        entry["healthcheck"] = health
    entry["restart"] = svc.restart if base is None or "restart" not in base else base["restart"]
    if svc.stop_grace_period is not None:
        entry["stop_grace_period"] = svc.stop_grace_period
    entry["deploy"] = deploy_resources(svc)
    return entry


def _from_user_compose(name: str, svc: ServiceConfig, base: dict[str, Any]) -> dict[str, Any]:
    """The user's entry without what the host cannot use (ports, networks, deploy, build); refuses what
    would silently break there (env_file, a mount relative to the checkout, build without an image)."""
    if "env_file" in base:
        raise ValueError(
            f"app.composeFile: service '{name}' uses env_file, which does not exist on the host: "
            f"use app.services.{name}.environment and secretEnv"
        )
    for volume in base.get("volumes") or []:
        source = volume.split(":", 1)[0] if isinstance(volume, str) else str((volume or {}).get("source", ""))
        if source.startswith((".", "~")):
            raise ValueError(
                f"app.composeFile: service '{name}' mounts {source}, a path relative to your checkout that does not "
                f"exist on the host: use app.services.{name}.volumes or configFiles (kind generic)"
            )
    entry = {key: value for key, value in base.items() if key not in ("ports", "networks", "deploy", "build")}
    if "build" in base and not svc.image and "image" not in base:
        raise ValueError(
            f"app.composeFile: service '{name}' only has `build:`; the host pulls images, so set "
            f"app.services.{name}.image (or an image in the compose file)"
        )
    return entry


def _mount_config_files(
    stack: StackConfig, name: str, svc: ServiceConfig, entry: dict[str, Any], result: ComposeRender,
    volumes: list[Any], command: Any,
) -> Any:
    """Mount the service's config files (postgresql.conf, redis.conf or generic files) read-only from their
    content-addressed paths; returns the command, defaulting to one that loads the config file."""
    tuning = svc.config_files
    if isinstance(tuning, PostgresTuning):
        path = result.store(stack, name, "postgresql.conf", postgres.render_postgresql_conf(name, svc))
        volumes.append(f"{path}:{postgres.CONTAINER_PATH}:ro")
        if command is None:
            command = ["postgres", "-c", f"config_file={postgres.CONTAINER_PATH}"]
        # Parallel queries use /dev/shm; Docker's 64 MB default is too small for real work.
        entry.setdefault("shm_size", "256m" if svc.limits.memory_mb >= 2048 else "128m")
        entry.setdefault("stop_grace_period", "60s")
    elif isinstance(tuning, RedisTuning):
        path = result.store(stack, name, "redis.conf", redis.render_redis_conf(name, svc))
        volumes.append(f"{path}:{redis.CONTAINER_PATH}:ro")
        if command is None:
            command = ["redis-server", redis.CONTAINER_PATH]
        auth = redis.auth_files(name, svc)
        if auth:
            result.secret_files += auth
            source = "./" + auth[0].path.rsplit("/", 1)[0]  # relative to the release (the project directory)
            volumes.append({"type": "bind", "source": source, "target": redis.AUTH_DIR, "read_only": True})
        entry.setdefault("stop_grace_period", "60s")
    elif isinstance(tuning, GenericFiles):
        for index, (target, content) in enumerate(tuning.files.items()):
            path = result.store(stack, name, f"{index:02d}-{Path(target).name or 'file'}", content)
            volumes.append(f"{path}:{target}:ro")
    return command


def _healthcheck(svc: ServiceConfig) -> dict[str, Any] | None:
    """The configured or default healthcheck; a password-protected Redis without one checks with its password."""
    tuning = svc.config_files
    if isinstance(tuning, RedisTuning) and tuning.password_secret and svc.healthcheck is None:
        return _healthcheck_entry(redis.authenticated_healthcheck())
    check = svc.default_healthcheck()
    return None if check is None else _healthcheck_entry(check)


def _healthcheck_entry(check: HealthcheckConfig) -> dict[str, Any]:
    return {
        "test": literal(check.compose_test()),
        "interval": check.interval,
        "timeout": check.timeout,
        "retries": check.retries,
        "start_period": check.start_period,
    }
