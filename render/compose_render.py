"""What rendering one server's compose project produces: the compose model, the config files it mounts
from content-addressed paths under /opt/<project>/files, and what the deploy needs besides (data dirs,
secrets, secret files, the proxy's routes and the blue-green live files)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from config.path_checks import releases_dir
from config.schema import StackConfig
from render.proxy import Redirect, Route
from render.secret_files import SecretFile

COMPOSE_FILE = "docker-compose.yml"


@dataclass
class ComposeRender:
    """One server's compose model plus the config files it mounts (absolute host path -> content)."""

    server: str
    model: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    data_dirs: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    # Secret files of the release (written by the deploy script), relative to the release directory.
    secret_files: list[SecretFile] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    proxy_kind: str | None = None
    # Blue-green services of this server and the proxy's live-colour files (render/blue_green.py).
    blue_green: list[str] = field(default_factory=list)
    live_files: dict[str, str] = field(default_factory=dict)
    live_dir: str = ""  # host directory the proxy reads the live colour from

    @property
    def text(self) -> str:
        return dump_compose(self.model, self.server)

    @property
    def service_names(self) -> list[str]:
        return list(self.model.get("services", {}))

    def store(self, stack: StackConfig, service: str, filename: str, content: str) -> str:
        """Keep a config file of `service` at its content-addressed path; returns that path."""
        path = stored_path(stack, service, filename, content)
        self.files[path] = content
        return path


def dump_compose(model: dict[str, Any], server: str) -> str:
    header = (
        f"# docker compose project for server '{server}', rendered by hetzner-platform.\n"
        "# Secrets are ${NAME} references filled from the release's env file (mode 0600).\n"
    )
    return header + yaml.safe_dump(model, sort_keys=False, width=200)


def base_dir(stack: StackConfig) -> str:
    return releases_dir(stack.project)


def stored_path(stack: StackConfig, service: str, filename: str, content: str) -> str:
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    return f"{base_dir(stack)}/files/{service}/{digest}/{filename}"
