"""The firewall step: UFW policy and rules, and DOCKER-USER rules in ufw's after.rules/after6.rules.

Rules are rendered in the exact form `ufw show added` prints them, so the script compares the host's
rules with these strings directly (ufw itself writes `x.x.x.x/32` as `x.x.x.x` and `0.0.0.0/0` as
no source at all; `ufw_source` does the same).
"""

from __future__ import annotations

import ipaddress

from config.schema import StackConfig
from render.host_script import HostFile, build_step, fill, host_file
from render.steps import HostStep
from render.swarm_firewall import swarm_docker_user_rules, swarm_ufw_rules
from spec.host_paths import UFW_AFTER6_RULES, UFW_AFTER_RULES
from spec.web_sources import web_sources

PUBLIC_PORTS = (80, 443)


def ufw_source(cidr: str) -> str | None:
    """How ufw writes a source network; None for 'anywhere'."""
    network = ipaddress.ip_network(cidr, strict=False)
    if network.prefixlen == 0:
        return None
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _port_rule(port: int, source: str | None, comment: str, action: str = "allow") -> str:
    if source is None:
        return f"{action} {port}/tcp comment '{comment}'"
    return f"{action} from {source} to any port {port} proto tcp comment '{comment}'"


def ufw_rules(config: StackConfig) -> tuple[list[str], list[str]]:
    """(all rules in order, the rules that must come first): admin networks reach SSH without the
    rate limit; everybody else is rate limited (`limit`: 6 connections in 30 s)."""
    port = config.ssh.port
    admin_sources = [ufw_source(cidr) for cidr in config.ssh.admin_cidrs]
    # A world-open admin network (0.0.0.0/0, ::/0) gets no allow rule of its own: placed before the
    # `limit` rule it would switch rate limiting off for everyone. The plan warns about it.
    top = [_port_rule(port, source, "ssh admin") for source in admin_sources if source is not None]
    rules = [*top, _port_rule(port, None, "ssh", action="limit")]
    sources = web_sources(config)
    for public in PUBLIC_PORTS:
        name = {80: "http", 443: "https"}[public]
        if sources is None:
            rules.append(_port_rule(public, None, name))
        else:
            rules += [_port_rule(public, ufw_source(cidr), f"{name} cloudflare") for cidr in sources]
    if config.app.engine == "swarm":
        rules += swarm_ufw_rules(config)
    elif config.network is not None:
        rules.append(f"allow from {config.network.ip_range} comment 'private network'")
    for admin_port in config.host.admin_ports:
        rules += [_port_rule(admin_port, source, "admin port") for source in admin_sources]
    return list(dict.fromkeys(rules)), list(dict.fromkeys(top))


def _dnat_port_rule(port: int, source: str | None) -> str:
    prefix = f"-A DOCKER-USER -s {source} -p tcp" if source else "-A DOCKER-USER -p tcp"
    return f"{prefix} -m conntrack --ctorigdstport {port} --ctdir ORIGINAL -j RETURN"


def docker_user_rules(config: StackConfig, version: int) -> list[str]:
    """The rules between the fixed head (replies, loopback, container bridges) and the final DROP,
    exactly as iptables-save/ip6tables-save print them."""
    rules: list[str] = swarm_docker_user_rules(config)
    if version == 4 and config.network is not None:
        rules.append(f"-A DOCKER-USER -s {config.network.ip_range} -j RETURN")
    sources = web_sources(config)
    for port in PUBLIC_PORTS:
        if sources is None:
            rules.append(_dnat_port_rule(port, None))
        else:
            rules += [_dnat_port_rule(port, cidr) for cidr in sources if ipaddress.ip_network(cidr).version == version]
    admin_networks = [ipaddress.ip_network(cidr) for cidr in config.ssh.admin_cidrs]
    for admin_port in config.host.admin_ports:
        for network in admin_networks:
            if network.version != version:
                continue
            rules.append(_dnat_port_rule(admin_port, None if network.prefixlen == 0 else str(network)))
    return list(dict.fromkeys(rules))


def after_rules(config: StackConfig, version: int) -> HostFile:
    notes = ""
    if version == 4 and config.network is not None:
        notes += f"# The private network {config.network.ip_range} passes.\n"
    if web_sources(config) is not None:
        notes += "# 80 and 443 pass from Cloudflare's ranges only (dns.cloudflareOnly).\n"
    if config.host.admin_ports:
        notes += f"# Admin ports {', '.join(map(str, config.host.admin_ports))} pass from the admin networks only.\n"
    docker_user = fill("docker-user.rules", notes=notes, rules="\n".join(docker_user_rules(config, version)))
    return host_file(UFW_AFTER_RULES if version == 4 else UFW_AFTER6_RULES, docker_user=docker_user.rstrip("\n"))


def firewall_step(config: StackConfig, server: str) -> HostStep:
    rules, top = ufw_rules(config)
    return build_step(
        "firewall",
        server=server,
        values={"HP_UFW_RULES": rules, "HP_UFW_TOP": top, "HP_UFW_FILES": [UFW_AFTER_RULES, UFW_AFTER6_RULES]},
        files=[after_rules(config, 4), after_rules(config, 6)],
    )
