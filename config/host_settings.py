"""Host settings applied over SSH: the single place where every host default lives.

The renderers in `render/host*.py` read only these models (plus `ssh`, `network`, `volumes` and
`floatingIp` of the stack), so a value never has a second default hidden in a template.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Annotated, Literal

from pydantic import Field, field_validator

from config.base import USER_NAME_RE, ConfigModel, Port, check_cidr

# --- defaults ------------------------------------------------------------------------------------
# Seed 004 ("System Tuning") plus the Docker-aware part of dev-sec's linux-baseline. ip_forward stays 1:
# Docker needs it (dev-sec sysctl-01 is waived on purpose, see dev-sec/ansible-collection-hardening#213).
DEFAULT_SYSCTL: dict[str, str] = {
    # network throughput (seed 004)
    "net.core.rmem_max": "134217728",
    "net.core.wmem_max": "134217728",
    "net.ipv4.tcp_rmem": "4096 87380 134217728",
    "net.ipv4.tcp_wmem": "4096 65536 134217728",
    "net.core.netdev_max_backlog": "5000",
    "net.core.default_qdisc": "fq",
    "net.ipv4.tcp_congestion_control": "bbr",
    # file descriptors (seed 004)
    "fs.file-max": "2097152",
    "fs.nr_open": "2097152",
    # memory (seed 004); overcommit 1 is what Redis asks for to fork its background saves
    "vm.swappiness": "10",
    "vm.dirty_ratio": "15",
    "vm.dirty_background_ratio": "5",
    "vm.overcommit_memory": "1",
    # Docker: containers reach the outside world through the host's forwarding
    "net.ipv4.ip_forward": "1",
    # dev-sec linux-baseline items that do not fight Docker
    "net.ipv4.conf.all.rp_filter": "2",  # loose: the host is multi-homed (public, floating IP, private net)
    "net.ipv4.conf.default.rp_filter": "2",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.default.accept_redirects": "0",
    "net.ipv4.conf.all.secure_redirects": "0",
    "net.ipv4.conf.default.secure_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.conf.default.accept_source_route": "0",
    "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv6.conf.default.accept_redirects": "0",
    "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    "net.ipv4.icmp_ignore_bogus_error_responses": "1",
    "net.ipv4.tcp_syncookies": "1",
    "kernel.kptr_restrict": "2",
    "kernel.dmesg_restrict": "1",
    "kernel.randomize_va_space": "2",
    "fs.protected_hardlinks": "1",
    "fs.protected_symlinks": "1",
    "fs.suid_dumpable": "0",
}

# Packages the later steps rely on. Installed by the base step only when missing.
BASE_PACKAGES: tuple[str, ...] = (
    "ca-certificates",
    "curl",
    "gnupg",
    "iproute2",
    "sudo",
    "ufw",
    "fail2ban",
    "python3-systemd",  # fail2ban's systemd backend
    "unattended-upgrades",
    "e2fsprogs",
)

# Hetzner's own NTP servers: answered inside Hetzner's network, no public pool needed.
HETZNER_NTP = ("ntp1.hetzner.de", "ntp2.hetzner.com", "ntp3.hetzner.net")

# dev-sec ssh-baseline algorithm lists, trimmed to what OpenSSH 9.2 (Debian 12) and 9.6 (Ubuntu 24.04)
# both know and what Pulumi's Go SSH client and paramiko can negotiate.
SSH_CIPHERS = (
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)
SSH_KEX = (
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group-exchange-sha256",
)
SSH_MACS = (
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "umac-128-etm@openssh.com",
)

_SYSCTL_KEY_RE = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$", re.ASCII)
_SYSCTL_VALUE_RE = re.compile(r"^[A-Za-z0-9_ .:/-]+$", re.ASCII)
_SIZE_RE = re.compile(r"^[1-9][0-9]*[KMG]$", re.ASCII)
_DOCKER_SIZE_RE = re.compile(r"^[1-9][0-9]*[kmg]$", re.ASCII)
DockerSource = Literal["docker-ce", "debian"]
_HHMM_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", re.ASCII)
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$", re.ASCII)
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$", re.ASCII)
_IFACE_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$", re.ASCII)
_DIR_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", re.ASCII)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class HostSshConfig(ConfigModel):
    """sshd hardening drop-in (dev-sec ssh-baseline where it does not fight this setup)."""

    max_auth_tries: Annotated[int, Field(ge=2, le=10)] = 3
    login_grace_time_s: Annotated[int, Field(ge=10, le=600)] = 30
    client_alive_interval_s: Annotated[int, Field(ge=0, le=3600)] = 300
    client_alive_count_max: Annotated[int, Field(ge=1, le=10)] = 3
    max_sessions: Annotated[int, Field(ge=1, le=100)] = 10
    # "local" lets admins tunnel to services bound to 127.0.0.1 (ssh -L); dev-sec wants "no".
    allow_tcp_forwarding: Literal["no", "local"] = "local"
    # More login names besides ssh.adminUser (AllowUsers); they still need keys of their own.
    extra_allow_users: list[str] = Field(default_factory=list)
    ciphers: list[str] = Field(default_factory=lambda: list(SSH_CIPHERS), min_length=1)
    kex_algorithms: list[str] = Field(default_factory=lambda: list(SSH_KEX), min_length=1)
    macs: list[str] = Field(default_factory=lambda: list(SSH_MACS), min_length=1)

    @field_validator("extra_allow_users")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        for user in value:
            if not USER_NAME_RE.fullmatch(user) or user == "root":
                raise ValueError(f"'{user}' is not a valid login name (and root may never log in)")
        return value

    @field_validator("ciphers", "kex_algorithms", "macs")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(r"^[a-z0-9@._-]+$", name, re.ASCII):
                raise ValueError(f"'{name}' is not an OpenSSH algorithm name")
        return value


class Fail2banConfig(ConfigModel):
    """sshd jail on the configured SSH port (seed 004 values) plus the recidive jail."""

    maxretry: Annotated[int, Field(ge=1, le=100)] = 3
    bantime_s: Annotated[int, Field(ge=60, le=31_536_000)] = 3600
    findtime_s: Annotated[int, Field(ge=60, le=31_536_000)] = 600
    recidive_maxretry: Annotated[int, Field(ge=1, le=100)] = 5
    recidive_bantime_s: Annotated[int, Field(ge=60, le=31_536_000)] = 604800
    recidive_findtime_s: Annotated[int, Field(ge=60, le=31_536_000)] = 86400
    # Never banned (besides loopback); the admin networks are not added automatically.
    ignore_cidrs: list[str] = Field(default_factory=list)

    @field_validator("ignore_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [check_cidr(cidr) for cidr in value]


class ComposePluginDownload(ConfigModel):
    """Where the docker step fetches the compose v2 CLI plugin when the OS archive has none (Debian 12)."""

    # https:// (e.g. a release asset of github.com/docker/compose) or file:// (a copy already on the host).
    url: str
    # The plugin binary's sha256; the step refuses a download that does not match.
    sha256: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(https://[^\s/]+/\S+|file:///\S+)$", value):
            raise ValueError(f"'{value}' must be an https:// or file:/// URL of the docker-compose binary")
        return value

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError("must be the 64 lowercase hex digits of the binary's sha256")
        return value


class DockerConfig(ConfigModel):
    """Docker with a safe daemon.json, from Docker's repository (docker-ce, pinned major) or the OS archive (debian)."""

    enabled: bool = True  # false: no docker step at all (bring your own engine)
    # docker-ce: Docker CE + compose plugin from download.docker.com. debian: the distribution's docker.io
    # (Debian 12: 20.10, Ubuntu 24.04: 24.0/26.1) and a compose v2 plugin (see spec/docker.py).
    source: DockerSource = "docker-ce"
    major: Annotated[int, Field(ge=20, le=99)] = 28  # docker-ce only
    # source debian: where the compose v2 plugin comes from when the archive has none (needed on Debian 12).
    compose_plugin: ComposePluginDownload | None = None
    log_max_size: str = "100m"  # seed 004
    log_max_file: Annotated[int, Field(ge=1, le=100)] = 5  # seed 004
    metrics_addr: str | None = "127.0.0.1:9323"
    live_restore: bool = True
    userland_proxy: bool = False
    nofile: Annotated[int, Field(ge=1024, le=1048576)] = 65536  # seed 004 default-ulimits

    @field_validator("log_max_size")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _DOCKER_SIZE_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a Docker log size such as 10m, 100m or 1g")
        return value

    @field_validator("metrics_addr")
    @classmethod
    def _metrics(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"^(127\.0\.0\.1|\[::1\]|10\.\d+\.\d+\.\d+):\d{1,5}$", value, re.ASCII):
            raise ValueError(f"'{value}' must be a loopback or private address with a port, e.g. 127.0.0.1:9323")
        return value


class HostConfig(ConfigModel):
    timezone: str = "UTC"
    swap_gb: Annotated[int, Field(ge=0, le=64)] = 2
    # Extra TCP ports opened in UFW, DOCKER-USER and the cloud firewall, only from ssh.adminCidrs.
    admin_ports: list[Port] = Field(default_factory=list)
    # Window for unattended-upgrades reboots ("HH:MM"); None: never reboot automatically.
    reboot_window: str | None = None
    ntp: Literal["timesyncd", "chrony"] = "timesyncd"
    ntp_servers: list[str] = Field(default_factory=lambda: list(HETZNER_NTP), min_length=1)
    journal_max_use: str = "500M"
    journal_keep_free: str = "1G"
    journal_max_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # Overrides/additions merged over the defaults in config/host_settings.py (DEFAULT_SYSCTL).
    sysctl: dict[str, str] = Field(default_factory=dict)
    extra_packages: list[str] = Field(default_factory=list)
    # The public interface of Hetzner Cloud images (the floating IP is added to it).
    public_interface: str = "eth0"
    # Directories created on every volume of the server, relative to its mount point.
    volume_data_dirs: list[str] = Field(default_factory=lambda: ["postgres", "redis", "backups"])
    # Seconds systemd waits at boot for a volume's device before giving up (the mount is nofail).
    volume_device_timeout_s: Annotated[int, Field(ge=1, le=600)] = 30
    ssh: HostSshConfig = Field(default_factory=HostSshConfig)
    fail2ban: Fail2banConfig = Field(default_factory=Fail2banConfig)
    docker: DockerConfig = Field(default_factory=DockerConfig)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value not in _timezones():
            raise ValueError(f"'{value}' is not an IANA time zone such as UTC or Europe/Berlin")
        return value

    @field_validator("admin_ports")
    @classmethod
    def _admin_ports(cls, value: list[int]) -> list[int]:
        for port in value:
            if port in (80, 443):
                raise ValueError(f"port {port} is always open; list only extra admin ports")
        return sorted(set(value))

    @field_validator("reboot_window")
    @classmethod
    def _reboot_window(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a time of day in HH:MM (24 h), e.g. 03:30")
        return value

    @field_validator("ntp_servers")
    @classmethod
    def _ntp(cls, value: list[str]) -> list[str]:
        for server in value:
            if not _HOSTNAME_RE.fullmatch(server):
                raise ValueError(f"'{server}' is not a host name or address")
        return value

    @field_validator("journal_max_use", "journal_keep_free")
    @classmethod
    def _journal_size(cls, value: str) -> str:
        if not _SIZE_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a size such as 500M or 2G")
        return value

    @field_validator("sysctl")
    @classmethod
    def _sysctl(cls, value: dict[str, str]) -> dict[str, str]:
        for key, setting in value.items():
            if not _SYSCTL_KEY_RE.fullmatch(key):
                raise ValueError(f"'{key}' is not a sysctl key such as net.core.somaxconn")
            if not _SYSCTL_VALUE_RE.fullmatch(str(setting)):
                raise ValueError(f"sysctl {key}: value '{setting}' has characters a sysctl.d file cannot hold")
        if str(value.get("net.ipv4.ip_forward", "1")).strip() != "1":
            raise ValueError("net.ipv4.ip_forward must stay 1: Docker routes container traffic through it")
        return {key: str(setting) for key, setting in value.items()}

    @field_validator("extra_packages")
    @classmethod
    def _packages(cls, value: list[str]) -> list[str]:
        for package in value:
            if not _PACKAGE_RE.fullmatch(package):
                raise ValueError(f"'{package}' is not a Debian package name")
        return value

    @field_validator("public_interface")
    @classmethod
    def _iface(cls, value: str) -> str:
        if not _IFACE_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a network interface name")
        return value

    @field_validator("volume_data_dirs")
    @classmethod
    def _data_dirs(cls, value: list[str]) -> list[str]:
        for directory in value:
            if not _DIR_RE.fullmatch(directory) or ".." in directory.split("/"):
                raise ValueError(f"'{directory}' must be a relative path inside the volume, e.g. postgres")
        return value

    # --- derived ----------------------------------------------------------------------------------
    def sysctl_settings(self) -> dict[str, str]:
        """The defaults with this stack's overrides applied (overrides win, new keys go last)."""
        return {**DEFAULT_SYSCTL, **self.sysctl}

    def packages(self, *, xfs: bool = False) -> list[str]:
        ntp_package = "chrony" if self.ntp == "chrony" else "systemd-timesyncd"
        extra = ["xfsprogs"] if xfs else []
        return sorted({*BASE_PACKAGES, ntp_package, *extra, *self.extra_packages})
