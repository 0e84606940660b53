"""Private registry logins on the host, before `docker compose pull`.

The deploy script runs `docker login --username USER --password-stdin HOST` per `app.registries` entry,
the token decoded from the script's stdin straight into docker's stdin: never an argument, never
printed. Docker stores it in DOCKER_CONFIG_DIR/config.json, which only root reads; every compose call
of the deploy script and of the jobs points DOCKER_CONFIG there.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.schema import StackConfig

# Docker Hub's login server is the CLI's default (no server argument); "docker.io" is how users name it.
DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class RegistryLogin:
    host: str  # as configured
    server_arg: str  # what `docker login` gets ("" for Docker Hub)
    username: str
    secret: str


def registry_logins(config: StackConfig) -> list[RegistryLogin]:
    return [
        RegistryLogin(host, "" if host in DOCKER_HUB_NAMES else host, registry.username, registry.password_secret)
        for host, registry in sorted(config.app.registries.items())
    ]


def registry_secret_names(config: StackConfig) -> list[str]:
    return sorted({login.secret for login in registry_logins(config)})
