"""Firewall rules a swarm node adds (app.engine swarm); render/host_firewall.py places them.

- UFW: swarm's ports (2377/tcp, 7946/tcp+udp, 4789/udp) are allowed only in on the private interface
  and only from the private subnet. They replace phase 2's "allow everything from the private network":
  the services talk over the overlay (VXLAN on 4789/udp), not to host ports.
  https://docs.docker.com/engine/swarm/swarm-tutorial/#open-protocols-and-ports-between-the-hosts
- DOCKER-USER: swarm tasks reach the outside through the docker_gwbridge bridge, which the fixed head
  of the chain (docker0, br-+) does not cover; without this rule their new outbound connections (image
  pulls by the app, APIs, DNS) hit the final DROP (measured: ../shared/research/swarm/README.md). It
  matches the *incoming* interface, so it opens nothing to the outside: published ports still pass only
  by the per-port rules (80/443).
Rules are written in the form `ufw show added` prints them (render/host_firewall.py compares strings).
"""

from __future__ import annotations

from config.schema import StackConfig
from spec.swarm import SWARM_PORTS

GATEWAY_BRIDGE = "docker_gwbridge"


def swarm_ufw_rules(config: StackConfig) -> list[str]:
    if config.network is None:
        return []
    interface = config.app.swarm.private_interface
    rules = []
    for port, protocol in SWARM_PORTS:
        proto = f" proto {protocol}" if protocol else ""
        rules.append(f"allow in on {interface} from {config.network.subnet} to any port {port}{proto} comment 'swarm'")
    return rules


def swarm_docker_user_rules(config: StackConfig) -> list[str]:
    if config.app.engine != "swarm":
        return []
    return [f"-A DOCKER-USER -i {GATEWAY_BRIDGE} -j RETURN"]
