"""The `app` stack output: what the ssh/logs/exec/status commands need to find a service without anyone
remembering ports, users, compose projects or which server runs what."""

from __future__ import annotations

from typing import Any

from config.schema import StackConfig
from config.stack_views import placement_names
from spec.host_paths import current_release_dir


def compose_dir(config: StackConfig) -> str:
    return config.ops.compose_dir or current_release_dir(config.project)


def app_output(config: StackConfig) -> dict[str, Any]:
    services: dict[str, list[str]] = {}
    for server, names in placement_names(config).items():
        for name in names:
            services.setdefault(name, []).append(server)
    return {
        "composeProject": config.ops.compose_project or config.project,
        "composeDir": compose_dir(config),
        "release": config.app.release,
        "images": {name: service.image for name, service in config.app.services.items()},
        "services": services,
        "jobs": sorted(config.app.jobs),
    }
