"""The wait step (first boot finished) and the base step (packages, time, journald, sysctl, swap)."""

from __future__ import annotations

from config.schema import StackConfig
from render.host_script import HostFile, build_step, host_file
from render.steps import HostStep
from spec.host_paths import (
    CHRONY_FILE,
    JOURNALD_FILE,
    MODULES_FILE,
    SWAP_UNIT,
    SYSCTL_FILE,
    TIMESYNCD_FILE,
    TIMEZONE_FILE,
)


def wait_step(config: StackConfig, server: str) -> HostStep:
    return build_step("wait", server=server)


def sysctl_file(config: StackConfig) -> HostFile:
    settings = "\n".join(f"{key} = {value}" for key, value in config.host.sysctl_settings().items())
    return host_file(SYSCTL_FILE, settings=settings)


def modules_file(config: StackConfig) -> HostFile:
    bbr = config.host.sysctl_settings().get("net.ipv4.tcp_congestion_control") == "bbr"
    modules = "tcp_bbr" if bbr else "# (none)"
    return host_file(MODULES_FILE, modules=modules)


def ntp_file(config: StackConfig) -> HostFile:
    servers = config.host.ntp_servers
    if config.host.ntp == "chrony":
        return host_file(CHRONY_FILE, servers="\n".join(f"server {s} iburst" for s in servers))
    return host_file(TIMESYNCD_FILE, servers=" ".join(servers))


def base_files(config: StackConfig) -> list[HostFile]:
    host = config.host
    files = [
        HostFile(TIMEZONE_FILE, f"{host.timezone}\n"),
        ntp_file(config),
        host_file(
            JOURNALD_FILE,
            max_use=host.journal_max_use,
            keep_free=host.journal_keep_free,
            retention_days=host.journal_max_retention_days,
        ),
        sysctl_file(config),
        modules_file(config),
    ]
    if host.swap_gb > 0:
        files.append(host_file(SWAP_UNIT, swap_gb=host.swap_gb))
    return files


def base_step(config: StackConfig, server: str, *, xfs: bool = False) -> HostStep:
    host = config.host
    return build_step(
        "base",
        server=server,
        values={
            "HP_PACKAGES": host.packages(xfs=xfs),
            "HP_TIMEZONE": host.timezone,
            "HP_NTP": host.ntp,
            "HP_SWAP_GB": host.swap_gb,
            "HP_TIMEZONE_FILE": TIMEZONE_FILE,
            "HP_CHRONY_FILE": CHRONY_FILE,
            "HP_TIMESYNCD_FILE": TIMESYNCD_FILE,
            "HP_JOURNALD_FILE": JOURNALD_FILE,
            "HP_SYSCTL_FILE": SYSCTL_FILE,
            "HP_MODULES_FILE": MODULES_FILE,
            "HP_SWAP_UNIT": SWAP_UNIT,
        },
        files=base_files(config),
    )
