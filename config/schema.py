"""The whole stack configuration as one validated pydantic model tree.

A stack file (Pulumi.<stack>.yaml) holds one key per top-level field below, in the
`hetzner-platform:` namespace. Field checks run first; checks that need several fields at once
(a type sold in the stack's location, references between servers, volumes and IPs) run in
`StackConfig._cross_checks` and report every problem with its own config path.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from config.app import AppConfig
from config.base import DNS_LABEL_RE, MAX_EUR, USER_NAME_RE, ConfigModel, Port, Role, ServerRole, check_cidr
from config.catalogue import load_catalogue
from config.compose_file import closest
from config.errors import ConfigIssue
from config.host import HostConfig
from config.ops import OpsConfig
from config.path_checks import path_issues
from config.paths import check_host_dir
from config.references import reference_issues
from config.ssh_keys import check_public_key
from config.swarm import swarm_issues

ALL_ROLES: tuple[Role, ...] = ("web", "db", "worker")
SUPPORTED_IMAGES = ("ubuntu-24.04", "debian-12")

_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$", re.ASCII)
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


class CrossFieldIssues(ValueError):
    """Carries several path-specific issues out of a model validator through pydantic."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(issue) for issue in issues))


def check_domain(value: str) -> str:
    value = value.lower().rstrip(".")
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(DNS_LABEL_RE.fullmatch(label) for label in labels):
        raise ValueError(f"'{value}' is not a valid domain name")
    if labels[-1].isdigit():
        raise ValueError(f"'{value}' is not a valid domain name (top-level label is numeric)")
    return value


Cidr = Annotated[str, Field(min_length=1)]
PublicKey = Annotated[str, AfterValidator(check_public_key)]


class SshConfig(ConfigModel):
    admin_user: str = "deploy"
    port: Port = 22
    public_keys: list[PublicKey] = Field(min_length=1)
    admin_cidrs: list[Cidr] = Field(min_length=1)
    # Set true only for the run that moves ssh.port/adminUser, after sshd already answers on the new
    # values (see the access guard's message and the README).
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
        return environment == "prod"


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


class LbServiceConfig(ConfigModel):
    protocol: Literal["tcp", "http"] = "tcp"
    listen_port: Port
    destination_port: Port
    proxy_protocol: bool = False

    @field_validator("protocol", mode="before")
    @classmethod
    def _no_https(cls, value: object) -> object:
        if value == "https":
            raise ValueError(
                "https would terminate TLS on the load balancer and needs a certificate there; TLS terminates on "
                "the hosts' proxy in this project, so use tcp on 443 with proxyProtocol (the default services)"
            )
        return value


# Ports where the hosts' proxy (Traefik or nginx) only redirects to HTTPS or speaks TLS.
PROXY_PORTS = (80, 443)


class HealthCheckConfig(ConfigModel):
    # TCP by default, each service on its own destination port: the load balancer checks what it
    # forwards (and no two services share a check port). An HTTP check on the proxy's ports cannot work:
    # port 80 answers every path with a redirect (a check accepting it would pass whatever the app's
    # state) and 443 speaks TLS behind PROXY protocol.
    # None: HTTP through the hosts' proxy when an exposed service is behind the load balancer (spec/lb_checks.py),
    # else TCP. "http" with a port of your own checks that port directly.
    protocol: Literal["http", "tcp"] | None = None
    port: Port | None = None  # None: each service's destination port (TCP), the proxy's check port (HTTP)
    path: str = "/health"
    interval_s: Annotated[int, Field(ge=3, le=60)] = 15
    timeout_s: Annotated[int, Field(ge=1, le=60)] = 10
    retries: Annotated[int, Field(ge=0, le=5)] = 3

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not re.fullmatch(r"/[\x21-\x7e]*", value, re.ASCII) or '"' in value or "\\" in value:
            raise ValueError(f"'{value}' must be an absolute URL path such as /health")
        return value


def _default_lb_services() -> list[LbServiceConfig]:
    # TCP passthrough: TLS terminates on the host's proxy; PROXY protocol keeps client addresses.
    return [
        LbServiceConfig(protocol="tcp", listen_port=443, destination_port=443, proxy_protocol=True),
        LbServiceConfig(protocol="tcp", listen_port=80, destination_port=80, proxy_protocol=True),
    ]


class LoadBalancerConfig(ConfigModel):
    type: str = "lb11"
    algorithm: Literal["round_robin", "least_connections"] = "round_robin"
    services: list[LbServiceConfig] = Field(default_factory=_default_lb_services, min_length=1)
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)
    target_role: Role = "web"
    use_private_ip: bool = True

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        catalogue = load_catalogue()
        if value not in catalogue.load_balancer_types:
            raise ValueError(catalogue.load_balancer_problem(value, ""))
        return value

    @field_validator("services")
    @classmethod
    def _unique_ports(cls, value: list[LbServiceConfig]) -> list[LbServiceConfig]:
        ports = [service.listen_port for service in value]
        duplicates = sorted({port for port in ports if ports.count(port) > 1})
        if duplicates:
            raise ValueError(f"listen ports used twice: {duplicates}")
        return value


def _health_check_port_issues(lb: LoadBalancerConfig) -> list[ConfigIssue]:
    """Each service's health check needs its own port: the provider documents the check port as "Must be
    unique per Load Balancer" (pulumi-hcloud LoadBalancerServiceHealthCheckArgs.port docstring; Hetzner API
    docs, load balancer services), so one explicit port cannot serve several services."""
    check = lb.health_check
    if check.port is not None and len(lb.services) > 1:
        return [ConfigIssue("loadBalancer.healthCheck.port", (
            f"port {check.port} would be the health-check port of all {len(lb.services)} services, but Hetzner "
            "requires a check port unique per load balancer. Leave healthCheck.port unset (each service checks "
            "its own destination port) or keep a single service"
        ))]
    ports = [service.destination_port for service in lb.services]
    shared = sorted({port for port in ports if ports.count(port) > 1})
    if check.port is None and shared:
        return [ConfigIssue("loadBalancer.services", (
            f"destination port(s) {shared} are used by several services, so their health checks would share a "
            "port; Hetzner requires a check port unique per load balancer. Give each service its own destinationPort"
        ))]
    return []


class FloatingIpConfig(ConfigModel):
    type: Literal["ipv4", "ipv6"] = "ipv4"
    server: str | None = None  # default: the only server, else the first web server
    dns_ptr: str | None = None

    @field_validator("dns_ptr")
    @classmethod
    def _ptr(cls, value: str | None) -> str | None:
        return None if value is None else check_domain(value)


class NetworkConfig(ConfigModel):
    ip_range: str = "10.0.0.0/16"
    subnet: str = "10.0.1.0/24"

    @field_validator("ip_range", "subnet")
    @classmethod
    def _cidr(cls, value: str) -> str:
        cidr = check_cidr(value)
        network = ipaddress.ip_network(cidr)
        if network.version != 4 or not network.is_private:
            raise ValueError(f"'{value}' must be a private IPv4 range (RFC 1918)")
        return cidr

    @model_validator(mode="after")
    def _subnet_inside(self) -> NetworkConfig:
        subnet = ipaddress.ip_network(self.subnet)
        ip_range = ipaddress.ip_network(self.ip_range)
        if not (isinstance(subnet, ipaddress.IPv4Network) and isinstance(ip_range, ipaddress.IPv4Network)
                and subnet.subnet_of(ip_range)):
            raise ValueError(f"subnet {self.subnet} is not inside ipRange {self.ip_range}")
        return self


class DnsRecordConfig(ConfigModel):
    name: str  # "@" for the zone apex, or a relative name such as "www" or "api.eu"
    proxied: bool | None = None  # None: the zone-wide default
    ipv6: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value != "@" and not all(DNS_LABEL_RE.fullmatch(label) or label == "*" for label in value.lower().split(".")):
            raise ValueError(f"'{value}' is not a valid record name ('@', 'www', 'api.eu', '*')")
        return value.lower()


class DnsConfig(ConfigModel):
    zone: str
    records: list[DnsRecordConfig] = Field(min_length=1)
    proxied: bool = False
    ttl: Annotated[int, Field(ge=1, le=86400)] = 1  # 1 = Cloudflare "automatic"
    caa_letsencrypt: bool = True
    # Records of the same name and type that already exist in the zone (not created by this stack): true
    # adopts them with Pulumi's import option, false (default) refuses the run naming each one
    # (spec/dns_adoption.py). A CNAME where an A/AAAA record goes is always refused.
    adopt_existing: bool = False
    # With every record proxied: admit 80/443 only from Cloudflare's ranges (spec/web_sources.py).
    cloudflare_only: bool = True

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_domain(value)

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: int) -> int:
        if value != 1 and not 60 <= value <= 86400:
            raise ValueError(f"ttl {value} is invalid: use 1 (automatic) or 60..86400 seconds")
        return value

    @model_validator(mode="after")
    def _proxied_ttl(self) -> DnsConfig:
        if self.ttl != 1 and any(self.is_proxied(record) for record in self.records):
            raise ValueError("proxied records must use ttl 1 (automatic): Cloudflare ignores other values")
        names = [record.name for record in self.records]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"records listed twice: {duplicates}")
        full_names = [
            ConfigIssue(f"dns.records[{index}].name", (
                f"'{record.name}' is a full name; names are relative to dns.zone ({self.zone}), so it would become "
                f"{record.name}.{self.zone}: write '{self._relative(record.name)}'"
            ))
            for index, record in enumerate(self.records)
            if record.name == self.zone or record.name.endswith("." + self.zone)
        ]
        if full_names:
            raise CrossFieldIssues(full_names)
        return self

    def _relative(self, name: str) -> str:
        return "@" if name == self.zone else name.removesuffix("." + self.zone)

    def is_proxied(self, record: DnsRecordConfig) -> bool:
        return self.proxied if record.proxied is None else record.proxied

    def fqdn(self, record: DnsRecordConfig) -> str:
        return self.zone if record.name == "@" else f"{record.name}.{self.zone}"


class BudgetConfig(ConfigModel):
    monthly_eur: Annotated[float, Field(gt=0, le=MAX_EUR)]
    warn_eur: Annotated[float, Field(gt=0, le=MAX_EUR)] | None = None
    critical_eur: Annotated[float, Field(gt=0, le=MAX_EUR)] | None = None
    enforce: bool = False

    @model_validator(mode="after")
    def _order(self) -> BudgetConfig:
        warn = self.warn_eur if self.warn_eur is not None else self.monthly_eur * 0.8
        critical = self.critical_eur if self.critical_eur is not None else self.monthly_eur * 0.9
        if not warn <= critical <= self.monthly_eur:
            raise ValueError(
                f"thresholds must satisfy warnEur ({warn:g}) <= criticalEur ({critical:g}) <= monthlyEur ({self.monthly_eur:g})"
            )
        return self

    @property
    def warn(self) -> float:
        return self.warn_eur if self.warn_eur is not None else round(self.monthly_eur * 0.8, 2)

    @property
    def critical(self) -> float:
        return self.critical_eur if self.critical_eur is not None else round(self.monthly_eur * 0.9, 2)


class ExtraCostLine(ConfigModel):
    # Printed in the plan and in the pull-request cost table: one line, no table separator.
    item: Annotated[str, Field(min_length=1, max_length=120)]
    monthly_eur: Annotated[float, Field(ge=0, le=MAX_EUR)]
    note: Annotated[str, Field(max_length=300)] | None = None

    @field_validator("item", "note")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and re.search(r"[\x00-\x1f\x7f|]", value):
            raise ValueError("must be one line without control characters or '|' (it is a cell of the cost table)")
        return value


class PricingConfig(ConfigModel):
    # The day the estimate is for; None: today. Decides which price epoch applies.
    as_of: dt.date | None = None
    vat_rate_percent: Annotated[float, Field(ge=0, le=50)] | None = None
    # Bounds far above any real stack keep every cost line a finite Decimal.
    expected_snapshot_gb: Annotated[float, Field(ge=0, le=1_000_000)] = 0
    expected_traffic_tb: Annotated[float, Field(ge=0, le=100_000)] = 0
    extra_lines: list[ExtraCostLine] = Field(default_factory=list)
    # Manual price overrides, e.g. {"server:cx33": 6.49} for a grandfathered contract price.
    overrides: dict[str, Annotated[float, Field(ge=0, le=MAX_EUR)]] = Field(default_factory=dict)
    # `pulumi up`/`preview` only: read GET /v1/pricing and /v1/datacenters with the provider's token. The CLI
    # ignores it: `plan --live-prices` / `cost --live` ask for live prices, and without them no network call.
    live: bool = False


class CapacityConfig(ConfigModel):
    reserve_ram_gb: Annotated[float, Field(ge=0, le=4096)] = 1.0
    reserve_vcpu: Annotated[float, Field(ge=0, le=1024)] = 0.5


class StackConfig(ConfigModel):
    project: str
    environment: Literal["prod", "staging", "dev"]
    location: str = "nbg1"
    ssh: SshConfig
    servers: dict[str, ServerConfig] = Field(min_length=1)
    volumes: dict[str, VolumeConfig] = Field(default_factory=dict)
    load_balancer: LoadBalancerConfig | None = None
    floating_ip: FloatingIpConfig | None = None
    network: NetworkConfig | None = None
    dns: DnsConfig | None = None
    budget: BudgetConfig
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)
    host: HostConfig = Field(default_factory=HostConfig)
    app: AppConfig = Field(default_factory=AppConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _NAME_RE.fullmatch(value):
            raise ValueError(f"'{value}' must be 2-32 lowercase letters, digits or '-', starting with a letter")
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        catalogue = load_catalogue()
        if value not in catalogue.locations:
            raise ValueError(f"unknown location '{value}'; use one of {', '.join(sorted(catalogue.locations))}")
        return value

    @field_validator("servers")
    @classmethod
    def _server_names(cls, value: dict[str, ServerConfig]) -> dict[str, ServerConfig]:
        for name in value:
            if not _NAME_RE.fullmatch(name):
                raise ValueError(f"server name '{name}' must be 2-32 lowercase letters, digits or '-'")
        return value

    @field_validator("volumes")
    @classmethod
    def _volume_names(cls, value: dict[str, VolumeConfig]) -> dict[str, VolumeConfig]:
        # The name becomes the Hetzner volume name <project>-<environment>-<name>.
        for name in value:
            if not _NAME_RE.fullmatch(name):
                raise ValueError(f"volume name '{name}' must be 2-32 lowercase letters, digits or '-'")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> StackConfig:
        issues = self.cross_field_issues()
        if issues:
            raise CrossFieldIssues(issues)
        return self

    # --- cross-field checks --------------------------------------------------------------------
    def cross_field_issues(self) -> list[ConfigIssue]:
        catalogue = load_catalogue()
        issues: list[ConfigIssue] = []
        for name, server in self.servers.items():
            problem = catalogue.server_type_problem(server.server_type, self.location)
            if problem:
                issues.append(ConfigIssue(f"servers.{name}.serverType", problem))
            disk = catalogue.server_types[server.server_type].disk_gb if server.server_type in catalogue.server_types else None
            if disk is not None and self.host.swap_gb * 2 > disk:
                issues.append(ConfigIssue("host.swapGb", (
                    f"{self.host.swap_gb} GiB of swap is more than half of server {name}'s {disk} GB disk "
                    f"({server.server_type}); the swap file is written in full on the root disk"
                )))
        for name, volume in self.volumes.items():
            if volume.server is not None and volume.server not in self.servers:
                suggestion = closest(volume.server, set(self.servers))
                issues.append(ConfigIssue(f"volumes.{name}.server", f"no server named '{volume.server}'{suggestion}"))
        seen_mounts: dict[tuple[str, str], str] = {}
        for name, volume in self.volumes.items():
            key = (self.volume_server(name), volume.mount_point)
            if key in seen_mounts:
                reason = f"{volume.mount_point} is already used by volume '{seen_mounts[key]}'"
                issues.append(ConfigIssue(f"volumes.{name}.mountPoint", reason))
            seen_mounts[key] = name
        if self.load_balancer is not None:
            lb = self.load_balancer
            problem = catalogue.load_balancer_problem(lb.type, self.location)
            if problem:
                issues.append(ConfigIssue("loadBalancer.type", problem))
            if not self.servers_with_role(lb.target_role):
                reason = f"no server has the '{lb.target_role}' role, so the load balancer would have no target"
                issues.append(ConfigIssue("loadBalancer.targetRole", reason))
            if lb.use_private_ip and self.network is None:
                issues.append(ConfigIssue("loadBalancer.usePrivateIp", "needs a private network: add `network` or set usePrivateIp false"))
            limit = catalogue.load_balancer_types[lb.type].services
            if len(lb.services) > limit:
                issues.append(ConfigIssue("loadBalancer.services", f"{lb.type} allows at most {limit} services"))
            for index, service in enumerate(lb.services):
                if service.listen_port == self.ssh.port:
                    issues.append(ConfigIssue(f"loadBalancer.services[{index}].listenPort", f"{service.listen_port} is the SSH port"))
            check = lb.health_check
            check_ports = [check.port] if check.port is not None else [s.destination_port for s in lb.services]
            issues += _health_check_port_issues(lb)
            on_proxy = sorted({port for port in check_ports if port in PROXY_PORTS})
            if check.protocol == "http" and check.port is None:
                from spec.lb_checks import proxy_check  # spec builds on this module

                if not lb.use_private_ip or proxy_check(self) is None:
                    issues.append(ConfigIssue("loadBalancer.healthCheck.protocol", (
                        "http without a port checks the app through the hosts' proxy: that needs usePrivateIp and a "
                        "public exposed service whose health path the proxy routes (app.healthUrl); else set a port "
                        "of your own that answers 2xx, or protocol tcp"
                    )))
            if check.protocol == "http" and check.port is not None and on_proxy:
                issues.append(ConfigIssue("loadBalancer.healthCheck.port", (
                    f"an HTTP check on {', '.join(map(str, on_proxy))} cannot see the app: the hosts' proxy redirects "
                    "every request on 80 to HTTPS and speaks TLS behind PROXY protocol on 443. Use protocol tcp (the "
                    "default), or HTTP on a port of your own that answers 2xx"
                )))
        if self.floating_ip is not None and self.floating_ip.server is not None and self.floating_ip.server not in self.servers:
            suggestion = closest(self.floating_ip.server, set(self.servers))
            issues.append(ConfigIssue("floatingIp.server", f"no server named '{self.floating_ip.server}'{suggestion}"))
        if self.floating_ip is not None and self.floating_ip.server is None and len(self.servers) > 1 and not self.servers_with_role("web"):
            issues.append(ConfigIssue("floatingIp.server", "several servers and none has the web role: name the server"))
        issues += self._private_ip_issues()
        if len(self.servers) > 1 and self.network is None:
            issues.append(ConfigIssue("network", "a stack with several servers needs a private network for their traffic"))
        docker = self.host.docker
        if docker.enabled and docker.source == "debian" and docker.compose_plugin is None:
            debian = sorted(name for name, server in self.servers.items() if server.image == "debian-12")
            if debian:
                issues.append(ConfigIssue("host.docker.composePlugin", (
                    f"source debian on Debian 12 ({', '.join(debian)}) needs the compose v2 plugin's url and sha256: "
                    "bookworm's archive has no compose v2 package (its docker-compose is the old v1)"
                )))
        issues += path_issues(self)
        issues += reference_issues(self)
        issues += self.app.role_issues(self.served_roles())
        issues += self.app.stack_issues(self)
        issues += swarm_issues(self)
        issues += self.ops.schedule_issues()
        return issues

    def _private_ip_issues(self) -> list[ConfigIssue]:
        from spec.private_ips import reserved_addresses

        pinned = {name: server.private_ip for name, server in self.servers.items() if server.private_ip is not None}
        if self.network is None:
            return [ConfigIssue(f"servers.{name}.privateIp", "needs a private network (`network`)") for name in pinned]
        issues: list[ConfigIssue] = []
        subnet = ipaddress.ip_network(self.network.subnet)
        reserved = reserved_addresses(self.network.subnet)
        seen: dict[str, str] = {}
        for name, address in pinned.items():
            path = f"servers.{name}.privateIp"
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                issues.append(ConfigIssue(path, f"'{address}' is not an IPv4 address"))
                continue
            if parsed not in subnet or parsed in (subnet.network_address, subnet.broadcast_address):
                issues.append(ConfigIssue(path, f"{address} is not a host address of the subnet {self.network.subnet}"))
            elif str(parsed) in reserved:
                issues.append(ConfigIssue(path, f"{address} is reserved for {reserved[str(parsed)]}"))
            elif str(parsed) in seen:
                issues.append(ConfigIssue(path, f"{address} is already the address of server '{seen[str(parsed)]}'"))
            seen.setdefault(str(parsed), name)
        if not issues:
            issues += self._subnet_size_issues(self.network.subnet, pinned)
        return issues

    def _subnet_size_issues(self, subnet: str, pinned: dict[str, str]) -> list[ConfigIssue]:
        from spec.private_ips import FIRST_SERVER_HOST_INDEX, LOAD_BALANCER_HOST_INDEX

        # Servers without a pinned address take the free hosts from FIRST_SERVER_HOST_INDEX on.
        network = ipaddress.IPv4Network(subnet)
        first = network.network_address + 1 + FIRST_SERVER_HOST_INDEX
        pinned_above = {address for address in pinned.values() if ipaddress.IPv4Address(address) >= first}
        free = max(network.num_addresses - 2 - FIRST_SERVER_HOST_INDEX, 0) - len(pinned_above)
        unpinned = len(self.servers) - len(pinned)
        if free < unpinned:
            return [ConfigIssue("network.subnet", (
                f"{subnet} has {free} free host address(es) from host {FIRST_SERVER_HOST_INDEX + 1} on for "
                f"{unpinned} server(s) without a privateIp (the load balancer is host {LOAD_BALANCER_HOST_INDEX + 1}): "
                "use a larger subnet such as a /24"
            ))]
        return []

    # --- derived views used by components ------------------------------------------------------
    def served_roles(self) -> set[str]:
        return {role for server in self.servers.values() for role in server.roles}

    def servers_with_role(self, role: str) -> list[str]:
        return [name for name, server in self.servers.items() if role in server.roles]

    def volume_server(self, volume_name: str) -> str:
        volume = self.volumes[volume_name]
        if volume.server is not None:
            return volume.server
        if len(self.servers) == 1:
            return next(iter(self.servers))
        db_servers = self.servers_with_role("db")
        return db_servers[0] if db_servers else next(iter(self.servers))

    def floating_ip_server(self) -> str | None:
        if self.floating_ip is None:
            return None
        if self.floating_ip.server is not None:
            return self.floating_ip.server
        web = self.servers_with_role("web")
        return web[0] if web else next(iter(self.servers))

    @property
    def network_zone(self) -> str:
        return load_catalogue().locations[self.location].network_zone

    def resource_prefix(self) -> str:
        return f"{self.project}-{self.environment}"
