"""The network step: the floating IP, persistent across reboots (netplan, ifupdown or networkd)."""

from __future__ import annotations

from config.schema import StackConfig
from render.host_script import HostFile, build_step, fill, host_file
from render.steps import HostRuntime, HostStep
from spec.addresses import floating_host_address
from spec.host_paths import IFUPDOWN_FILE, NETPLAN_FILE, NETWORKD_DROPIN_NAME
from spec.resources import FloatingIpSpec

# The drop-in goes next to whichever .network file manages the interface (found at run time); this is
# the name cloud-init's networkd renderer gives it, used for the preview.
NETWORKD_TEMPLATE = f"/etc/systemd/network/10-cloud-init-{{iface}}.network.d/{NETWORKD_DROPIN_NAME}"


def floating_address(fip: FloatingIpSpec, runtime: HostRuntime) -> tuple[str, int, bool]:
    """(address, prefix length, known). Hetzner floating IPv6 is a /64: the host takes its ::1."""
    known = runtime.floating_ip is not None
    if fip.ip_type == "ipv4":
        return floating_host_address("ipv4", runtime.floating_ip or "0.0.0.0"), 32, known
    return floating_host_address("ipv6", runtime.floating_ip or "::"), 64, known


def network_files(config: StackConfig, fip: FloatingIpSpec, runtime: HostRuntime) -> list[HostFile]:
    address, prefix, _ = floating_address(fip, runtime)
    iface = config.host.public_interface
    values = {"address": address, "prefix": prefix, "iface": iface}
    family = "inet" if fip.ip_type == "ipv4" else "inet6"
    return [
        host_file(NETPLAN_FILE, mode="0600", address=address, prefix=prefix, iface=iface),
        host_file(IFUPDOWN_FILE, family=family, address=address, prefix=prefix, iface=iface),
        HostFile(NETWORKD_TEMPLATE.format(iface=iface), fill("networkd-floating-ip.conf", **values)),
    ]


def network_step(config: StackConfig, server: str, runtime: HostRuntime, fip: FloatingIpSpec) -> HostStep:
    address, prefix, known = floating_address(fip, runtime)
    iface = config.host.public_interface
    return build_step(
        "network",
        server=server,
        values={
            "HP_FIP_ADDRESS": address,
            "HP_FIP_PREFIX": prefix,
            "HP_FIP_IFACE": iface,
            "HP_NETWORKD_PAYLOAD": NETWORKD_TEMPLATE.format(iface=iface),
            "HP_NETWORKD_DROPIN_NAME": NETWORKD_DROPIN_NAME,
            "HP_NETPLAN_FILE": NETPLAN_FILE,
            "HP_IFUPDOWN_FILE": IFUPDOWN_FILE,
        },
        files=network_files(config, fip, runtime),
        missing_runtime=[] if known else ["floating IP address"],
    )
