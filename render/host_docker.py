"""The docker step: Docker CE and the compose plugin from Docker's apt repository, pinned major, and
a daemon.json with log rotation, live-restore, no userland proxy and local-only metrics."""

from __future__ import annotations

import json

from config.schema import StackConfig
from render.host_script import HostFile, build_step, fill, template
from render.steps import HostStep

DAEMON_JSON = "/etc/docker/daemon.json"
PREFERENCES = "/etc/apt/preferences.d/docker-ce"
SOURCES = "/etc/apt/sources.list.d/docker.sources"
SOURCES_TEMPLATE = "docker.sources.template"
PACKAGES = ("docker-ce", "docker-ce-cli", "containerd.io", "docker-buildx-plugin", "docker-compose-plugin")
# "Docker Release (CE deb) <docker@docker.com>", the key behind download.docker.com/linux/{ubuntu,debian}/gpg.
KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
# The os-release ID and VERSION_CODENAME of each supported Hetzner image.
IMAGE_RELEASES = {"ubuntu-24.04": ("ubuntu", "noble"), "debian-12": ("debian", "bookworm")}


def daemon_json(config: StackConfig) -> str:
    docker = config.host.docker
    settings: dict[str, object] = {
        "log-driver": "json-file",
        "log-opts": {"max-size": docker.log_max_size, "max-file": str(docker.log_max_file)},
        "live-restore": docker.live_restore,
        "userland-proxy": docker.userland_proxy,
        "default-ulimits": {"nofile": {"Name": "nofile", "Soft": docker.nofile, "Hard": docker.nofile}},
    }
    if docker.metrics_addr is not None:
        settings["metrics-addr"] = docker.metrics_addr
    return json.dumps(settings, indent=2) + "\n"


def sources_for(image: str) -> str:
    os_id, codename = IMAGE_RELEASES[image]
    return template("docker.sources").replace("@OS_ID@", os_id).replace("@CODENAME@", codename)


def docker_files(config: StackConfig, server: str) -> list[HostFile]:
    return [
        HostFile(DAEMON_JSON, daemon_json(config)),
        HostFile(PREFERENCES, fill("docker-ce.pref", major=config.host.docker.major)),
        # What the step writes on this server's image; the script fills in the running OS's values.
        HostFile(SOURCES, sources_for(config.servers[server].image)),
        HostFile(SOURCES_TEMPLATE, template("docker.sources"), listed=False),
    ]


def docker_step(config: StackConfig, server: str) -> HostStep:
    return build_step(
        "docker",
        server=server,
        values={
            "HP_DOCKER_MAJOR": config.host.docker.major,
            "HP_DOCKER_PACKAGES": list(PACKAGES),
            "HP_DOCKER_KEY_FINGERPRINT": KEY_FINGERPRINT,
            "HP_ADMIN_USER": config.ssh.admin_user,
        },
        files=docker_files(config, server),
    )
