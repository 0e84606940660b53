"""The upgrades step: unattended-upgrades for security origins only; Docker is never upgraded by it."""

from __future__ import annotations

from config.schema import StackConfig
from render.host_script import HostFile, build_step, host_file
from render.steps import HostStep
from spec.docker import ALL_DOCKER_PACKAGES
from spec.host_paths import AUTO_UPGRADES, NEEDRESTART_CONF, UNATTENDED_UPGRADES


def upgrades_files(config: StackConfig) -> list[HostFile]:
    window = config.host.reboot_window
    if window is None:
        reboot = 'Unattended-Upgrade::Automatic-Reboot "false";'
    else:
        reboot = "\n".join(
            [
                'Unattended-Upgrade::Automatic-Reboot "true";',
                f'Unattended-Upgrade::Automatic-Reboot-Time "{window}";',
                'Unattended-Upgrade::Automatic-Reboot-WithUsers "true";',
            ]
        )
    # Upgrading any Docker package restarts dockerd or containerd, and with them every container: the
    # packages of both sources (a server may have switched host.docker.source). Anchored: the list holds
    # regular expressions, and docker-ce would also match docker-ce-cli.
    blacklist = "\n".join(f'        "^{name.replace(".", "[.]")}$";' for name in ALL_DOCKER_PACKAGES)
    return [
        host_file(AUTO_UPGRADES),
        host_file(UNATTENDED_UPGRADES, blacklist=blacklist, reboot_settings=reboot),
        host_file(NEEDRESTART_CONF),
    ]


def upgrades_step(config: StackConfig, server: str) -> HostStep:
    return build_step(
        "upgrades",
        server=server,
        values={"HP_UPGRADE_FILES": [AUTO_UPGRADES, UNATTENDED_UPGRADES, NEEDRESTART_CONF]},
        files=upgrades_files(config),
    )
