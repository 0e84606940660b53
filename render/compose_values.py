"""Values as compose files write them: literal strings (no interpolation), environment values, secret
references, CPU and memory limits, and the long forms of `environment` and `depends_on`."""

from __future__ import annotations

from typing import Any

from config.app_service import COMPOSE_CONDITIONS, ServiceConfig
from config.app_values import SECRET_REF_RE


def literal(value: Any) -> Any:
    """Escape `$` so compose passes strings through unchanged (no interpolation)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [literal(item) for item in value]
    return value


def env_value(value: str | int | float | bool) -> str:
    """Environment value: `${SECRET}` references stay for compose to fill, every other `$` is literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        return str(value)
    out, last = [], 0
    for match in SECRET_REF_RE.finditer(value):
        out.append(value[last:match.start()].replace("$", "$$"))
        out.append(secret_ref(match.group(1)))
        last = match.end()
    out.append(value[last:].replace("$", "$$"))
    return "".join(out)


def secret_ref(name: str) -> str:
    return f"${{{name}:?secret {name} is not set}}"


def compose_cpus(cpus: float) -> str:
    return str(float(cpus))


def compose_memory(mb: float) -> str:
    if mb == int(mb):
        whole = int(mb)
        return f"{whole // 1024}G" if whole % 1024 == 0 else f"{whole}M"
    return f"{int(mb * 1024 * 1024)}b"


def normalise_depends(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {name: {"condition": COMPOSE_CONDITIONS["started"]} for name in value}
    return dict(value)


def normalise_env(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, list):
        env: dict[str, Any] = {}
        for item in value:
            key, _, rest = str(item).partition("=")
            env[key] = rest
        return env
    return {str(key): ("" if val is None else val) for key, val in dict(value).items()}


def deploy_resources(service: ServiceConfig) -> dict[str, Any]:
    """The service's `deploy:` section: CPU and memory limits, and reservations when set."""
    resources: dict[str, Any] = {
        "limits": {"cpus": compose_cpus(service.limits.cpus), "memory": compose_memory(service.limits.memory_mb)}
    }
    if service.reservations is not None:
        resources["reservations"] = {
            "cpus": compose_cpus(service.reservations.cpus),
            "memory": compose_memory(service.reservations.memory_mb),
        }
    return {"resources": resources}
