"""The docker step: the engine and the compose plugin (from Docker's repository or the OS archive, see
spec/docker.py), and a daemon.json with log rotation, live-restore, no userland proxy and local-only
metrics."""

from __future__ import annotations

import json

from config.schema import StackConfig
from render.host_script import HostFile, build_step, fill, host_file
from render.steps import HostStep
from spec.docker import COMPOSE_PLUGIN_PATH, docker_install
from spec.host_paths import DOCKER_DAEMON_JSON, DOCKER_KEYRING, DOCKER_PREFERENCES, DOCKER_SOURCES

SOURCES_TEMPLATE = "docker.sources.template"
# "Docker Release (CE deb) <docker@docker.com>", the key behind download.docker.com/linux/{ubuntu,debian}/gpg.
KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
# The os-release ID and VERSION_CODENAME of each supported Hetzner image.
IMAGE_RELEASES = {"ubuntu-24.04": ("ubuntu", "noble"), "debian-12": ("debian", "bookworm")}


def daemon_json(config: StackConfig) -> str:
    docker = config.host.docker
    settings: dict[str, object] = {
        "log-driver": "json-file",
        "log-opts": {"max-size": docker.log_max_size, "max-file": str(docker.log_max_file)},
        # dockerd refuses swarm mode with live-restore (moby's daemon config, func isSwarmCompatible:
        # "--live-restore daemon configuration is incompatible with swarm mode"): off on swarm nodes.
        "live-restore": docker.live_restore and config.app.engine != "swarm",
        "userland-proxy": docker.userland_proxy,
        "default-ulimits": {"nofile": {"Name": "nofile", "Soft": docker.nofile, "Hard": docker.nofile}},
    }
    if docker.metrics_addr is not None:
        settings["metrics-addr"] = docker.metrics_addr
    return json.dumps(settings, indent=2) + "\n"


def sources_for(image: str) -> str:
    os_id, codename = IMAGE_RELEASES[image]
    return sources_template().replace("@OS_ID@", os_id).replace("@CODENAME@", codename)


def sources_template() -> str:
    """docker.sources with the keyring path filled in; the script fills in the running OS's ID and codename."""
    return fill("docker.sources", keyring=DOCKER_KEYRING)


def docker_files(config: StackConfig, server: str) -> list[HostFile]:
    files = [HostFile(DOCKER_DAEMON_JSON, daemon_json(config))]
    if config.host.docker.source == "docker-ce":
        files += [
            host_file(DOCKER_PREFERENCES, major=config.host.docker.major),
            # What the step writes on this server's image; the script fills in the running OS's values.
            HostFile(DOCKER_SOURCES, sources_for(config.servers[server].image)),
            HostFile(SOURCES_TEMPLATE, sources_template(), listed=False),
        ]
    return files


def docker_step(config: StackConfig, server: str) -> HostStep:
    install = docker_install(config, server)
    download = install.compose_download
    return build_step(
        "docker",
        server=server,
        values={
            "HP_DOCKER_SOURCE": install.source,
            "HP_DOCKER_MAJOR": config.host.docker.major,
            "HP_DOCKER_PACKAGES": list(install.packages),
            "HP_DOCKER_CONFLICTS": list(install.conflicts),
            "HP_DOCKER_KEY_FINGERPRINT": KEY_FINGERPRINT,
            "HP_DOCKER_COMPOSE_PATH": COMPOSE_PLUGIN_PATH,
            "HP_DOCKER_COMPOSE_URL": download.url if download else "",
            "HP_DOCKER_COMPOSE_SHA256": download.sha256 if download else "",
            "HP_ADMIN_USER": config.ssh.admin_user,
            "HP_DOCKER_KEYRING": DOCKER_KEYRING,
            "HP_DOCKER_SOURCES": DOCKER_SOURCES,
            "HP_DOCKER_PREFERENCES": DOCKER_PREFERENCES,
            "HP_DOCKER_DAEMON_JSON": DOCKER_DAEMON_JSON,
        },
        files=docker_files(config, server),
    )
