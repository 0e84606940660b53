"""The application stack: compose services and their resource limits."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from config.base import ConfigModel
from config.errors import ConfigIssue

_MEMORY_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmMgG])?[bB]?$")
_UNIT_MB = {"k": 1 / 1024, "m": 1, "g": 1024, None: 1 / (1024 * 1024)}


def memory_mb(value: str) -> float:
    """Compose-style memory ("1.5G", "512M", "256m") in MiB."""
    match = _MEMORY_RE.match(value.strip())
    if not match:
        raise ValueError(f"'{value}' is not a memory size such as 512M or 1.5G")
    number, unit = match.groups()
    return float(number) * _UNIT_MB[unit.lower() if unit else None]


class ResourceLimits(ConfigModel):
    cpus: Annotated[float, Field(gt=0, le=64)]
    memory: str

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        memory_mb(value)
        return value

    @property
    def memory_mb(self) -> float:
        return memory_mb(self.memory)


class ServiceConfig(ConfigModel):
    image: str
    role: Literal["web", "db", "worker"] = "web"
    limits: ResourceLimits
    reservations: ResourceLimits | None = None


class AppConfig(ConfigModel):
    services: dict[str, ServiceConfig] = Field(default_factory=dict)

    def role_issues(self, served_roles: set[str]) -> list[ConfigIssue]:
        return [
            ConfigIssue(f"app.services.{name}.role", f"no server has the '{service.role}' role")
            for name, service in self.services.items()
            if service.role not in served_roles
        ]
