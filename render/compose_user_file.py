"""The team's own compose file (`app.composeFile`), read with the strict YAML reader: its services and
volumes, which the rendered compose file extends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.compose_file import read_user_compose
from config.schema import StackConfig

# --- a user's own compose file -------------------------------------------------------------------

def load_user_compose(stack: StackConfig) -> dict[str, Any]:
    if stack.app.compose_file is None:
        return {}
    # The config checks (config/compose_file.py) already refused a file the host cannot use.
    try:
        document = read_user_compose(Path(stack.app.compose_file))
    except ValueError as exc:
        raise ValueError(f"app.composeFile: {exc}") from None
    for name in document["services"]:
        if name not in stack.app.services:
            raise ValueError(
                f"app.composeFile: service '{name}' has no entry in app.services (its limits and role are required)"
            )
    return document


def user_compose_services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: dict(value or {}) for name, value in (document.get("services") or {}).items()}


def user_compose_volumes(document: dict[str, Any]) -> dict[str, Any]:
    volumes = document.get("volumes") or {}
    return dict(volumes) if isinstance(volumes, dict) else {}
