"""SSH access, servers and volumes: who logs in where, which server types and images, what is mounted."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from config.base import USER_NAME_RE, ConfigModel, Port, Role, ServerRole, check_cidr, protected_by_default
from config.catalogue import load_catalogue
from config.paths import check_host_dir
from config.ssh_keys import check_public_key

ALL_ROLES: tuple[Role, ...] = ("web", "db", "worker")
SUPPORTED_IMAGES = ("ubuntu-24.04", "debian-12")

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$", re.ASCII)
# Never the admin user: accounts and groups Debian 12 and Ubuntu 24.04 images already have (base-passwd,
# systemd, image packages, the docker group of the docker step; useradd fails on a name a group holds)
# and the daemon accounts a host commonly gets later.
SYSTEM_ACCOUNTS = frozenset({
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
    "backup", "list", "irc", "gnats", "nobody", "_apt", "systemd-network", "systemd-resolve", "systemd-timesync",
    "systemd-coredump", "messagebus", "sshd", "syslog", "uuidd", "tcpdump", "tss", "landscape", "pollinate",
    "polkitd", "fwupd-refresh", "usbmux", "dnsmasq", "_chrony", "chrony", "ubuntu", "debian", "docker",
    "postgres", "redis", "nginx", "ntp", "lxd", "dhcpcd", "_rpc", "statd", "sssd", "ftp", "operator", "halt",
    "shutdown", "adm", "sudo", "staff", "users",
})
RESERVED_PORTS = {80: "HTTP", 443: "HTTPS"}


Cidr = Annotated[str, Field(min_length=1)]
PublicKey = Annotated[str, AfterValidator(check_public_key)]


class SshConfig(ConfigModel):
    admin_user: str = "deploy"
    port: Port = 22
    public_keys: list[PublicKey] = Field(min_length=1)
    admin_cidrs: list[Cidr] = Field(min_length=1)
    # Set true only for the run that moves ssh.port/adminUser, after sshd already answers on the new
    # values (the access guard's message gives the procedure).
    confirm_access_change: bool = False

    @field_validator("admin_user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not USER_NAME_RE.fullmatch(value) or value == "root":
            raise ValueError(f"'{value}' is not a valid admin user name (lowercase letters, digits, _ and -; not root)")
        if value in SYSTEM_ACCOUNTS:
            raise ValueError(
                f"'{value}' is a system account of Debian/Ubuntu images: cloud-init would hand it a login shell, keys and "
                "sudo; pick a name of its own such as deploy"
            )
        return value

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if value in RESERVED_PORTS:
            raise ValueError(f"port {value} is reserved for {RESERVED_PORTS[value]} on the proxy; pick another SSH port")
        return value

    @field_validator("admin_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [check_cidr(cidr) for cidr in value]


class ServerConfig(ConfigModel):
    server_type: str
    image: str = "ubuntu-24.04"
    backups: bool = True
    roles: list[ServerRole] = Field(default_factory=lambda: list[ServerRole](ALL_ROLES), min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    # None means "on in prod, off elsewhere". Hetzner requires delete and rebuild protection to match.
    protection: bool | None = None
    delete_protection: bool | None = None
    rebuild_protection: bool | None = None
    # The date the server was (or will be) ordered; it decides the price epoch. None: today.
    ordered_on: dt.date | None = None
    # Expected hours alive per month for hourly billing; None: the whole month.
    hours_per_month: Annotated[int, Field(ge=1, le=744)] | None = None
    # On a type change keep the current disk size, so the server can be scaled down again later
    # (Hetzner cannot shrink a disk). Required to move to a type with a smaller disk.
    keep_disk: bool = False
    # Take a Hetzner snapshot before a type change (billed per GB until deleted).
    snapshot_before_resize: bool = False
    # This server's address on the private network; unset: the lowest free one from .10, in name order.
    # Pin it to keep the address when servers are added or removed (spec/private_ips.py).
    private_ip: str | None = None

    @field_validator("server_type")
    @classmethod
    def _server_type(cls, value: str) -> str:
        value = value.lower()
        catalogue = load_catalogue()
        if value in catalogue.retired or value not in catalogue.server_types:
            # Location-independent part of the check; the region part runs in the cross checks.
            problem = catalogue.server_type_problem(value, location="")
            raise ValueError(problem)
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if value not in SUPPORTED_IMAGES:
            raise ValueError(f"image '{value}' is not supported; use one of {', '.join(SUPPORTED_IMAGES)}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            if not re.fullmatch(r"^[a-z0-9A-Z]([a-z0-9A-Z._/-]{0,61}[a-z0-9A-Z])?$", key, re.ASCII):
                raise ValueError(f"label key '{key}' is not allowed by Hetzner (letters, digits, . _ - /, max 63)")
            if not re.fullmatch(r"^([a-z0-9A-Z]([a-z0-9A-Z._-]{0,61}[a-z0-9A-Z])?)?$", label, re.ASCII):
                raise ValueError(f"label '{key}' has a value Hetzner rejects: '{label}'")
        return value

    @model_validator(mode="after")
    def _protection_pairs(self) -> ServerConfig:
        if (
            self.delete_protection is not None
            and self.rebuild_protection is not None
            and self.delete_protection != self.rebuild_protection
        ):
            raise ValueError("deleteProtection and rebuildProtection must be equal (Hetzner rejects a mix)")
        return self

    def protected(self, environment: str) -> bool:
        for explicit in (self.delete_protection, self.rebuild_protection, self.protection):
            if explicit is not None:
                return explicit
        return protected_by_default(environment)


class VolumeConfig(ConfigModel):
    size_gb: int
    server: str | None = None  # default: the only server, else the one with the db role
    mount_point: str = "/mnt/data"
    format: Literal["ext4", "xfs"] = "ext4"
    delete_protection: bool | None = None

    @field_validator("size_gb")
    @classmethod
    def _size(cls, value: int) -> int:
        catalogue = load_catalogue()
        if not catalogue.volume_min_gb <= value <= catalogue.volume_max_gb:
            raise ValueError(f"{value} GB is outside Hetzner's volume range {catalogue.volume_min_gb}..{catalogue.volume_max_gb} GB")
        return value

    @field_validator("mount_point")
    @classmethod
    def _mount(cls, value: str) -> str:
        return check_host_dir(value)

    def protected(self, environment: str) -> bool:
        return self.delete_protection if self.delete_protection is not None else protected_by_default(environment)
