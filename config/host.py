"""Host settings applied over SSH (hardening, swap, upgrades). Extended by the host layer."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from config.base import ConfigModel


class HostConfig(ConfigModel):
    timezone: str = "UTC"
    swap_gb: Annotated[int, Field(ge=0, le=64)] = 2
    # Extra TCP ports opened in UFW and the cloud firewall, only from ssh.adminCidrs.
    admin_ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(default_factory=list)
    # Window for unattended-upgrades reboots ("HH:MM"); None: never reboot automatically.
    reboot_window: str | None = None
