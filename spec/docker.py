"""What the docker step installs on one server, from `host.docker.source` and the server's image.

`docker-ce`: Docker CE, its CLI, containerd and the buildx/compose plugins from download.docker.com,
pinned to `host.docker.major`.

`debian`: the engine from the distribution's own archive (`docker.io`, which pulls in containerd and
runc) and a compose v2 CLI plugin, which the deploy step needs (`docker compose up --wait`):
- Ubuntu 24.04 has it in the archive: `docker-compose-v2` (universe), installed as
  /usr/libexec/docker/cli-plugins/docker-compose
  (https://mid.mail-archive.com/ubuntu-bugs@lists.ubuntu.com/msg6274461.html shows the package and path).
- Debian 12 has none: `apt-cache policy docker-compose-plugin` finds no such package in bookworm, and
  bookworm's `docker-compose` (1.29.2) is the Python compose v1, a separate `docker-compose` command
  without `up --wait`. So the step downloads the plugin binary from `host.docker.composePlugin.url`
  and installs it only when its sha256 matches `host.docker.composePlugin.sha256` (config validation
  requires both for a Debian 12 server with source debian).
"""

from __future__ import annotations

from dataclasses import dataclass

from config.host_settings import ComposePluginDownload
from config.schema import StackConfig

DOCKER_CE_PACKAGES = ("docker-ce", "docker-ce-cli", "containerd.io", "docker-buildx-plugin", "docker-compose-plugin")
DEBIAN_ENGINE_PACKAGES = ("docker.io",)
UBUNTU_COMPOSE_PACKAGE = "docker-compose-v2"
# Installed packages of the other source: they hold the same binaries and units, so they go first.
CONFLICTS = {
    "docker-ce": ("docker.io", "docker-doc", "docker-compose", "docker-compose-v2", "podman-docker", "containerd", "runc"),
    "debian": ("docker-ce", "docker-ce-cli", "docker-ce-rootless-extras", "containerd.io", "docker-buildx-plugin", "docker-compose-plugin"),
}
# Every package either source installs (with their dependencies containerd and runc): unattended-upgrades
# never touches them, since an upgrade restarts dockerd and every container.
ALL_DOCKER_PACKAGES = (
    *DOCKER_CE_PACKAGES, "docker-ce-rootless-extras", *DEBIAN_ENGINE_PACKAGES, UBUNTU_COMPOSE_PACKAGE, "containerd", "runc",
)
# Where a downloaded compose plugin goes: one of the CLI's system plugin directories (defaultSystemPluginDirs in
# https://github.com/docker/cli/blob/master/cli-plugins/manager/manager_unix.go; also /usr/libexec/docker/cli-plugins,
# where the packages put theirs). tests/e2e/test_real_docker.py runs compose from here with docker.io 20.10.
COMPOSE_PLUGIN_PATH = "/usr/local/lib/docker/cli-plugins/docker-compose"


@dataclass(frozen=True)
class DockerInstall:
    source: str
    packages: tuple[str, ...]
    conflicts: tuple[str, ...]
    compose_download: ComposePluginDownload | None  # None: the compose plugin comes with the packages


def docker_install(config: StackConfig, server: str) -> DockerInstall:
    docker = config.host.docker
    if docker.source == "docker-ce":
        return DockerInstall("docker-ce", DOCKER_CE_PACKAGES, CONFLICTS["docker-ce"], None)
    packages: tuple[str, ...] = DEBIAN_ENGINE_PACKAGES
    if docker.compose_plugin is None:
        # Config validation allows this only on Ubuntu, whose archive has compose v2.
        packages = (*packages, UBUNTU_COMPOSE_PACKAGE)
    return DockerInstall("debian", packages, CONFLICTS["debian"], docker.compose_plugin)
