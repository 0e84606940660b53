"""The architecture of a stack as a Mermaid flowchart (GitHub renders it in Markdown).

    mermaid(plan_json, config)  ->  "---\\ntitle: ...\\n---\\nflowchart LR\\n  ..."

Structure comes from the resolved specs of the config (the same ones the program creates resources
from): DNS names, load balancer, floating IP, private network, each server with its type, roles and
private address, the compose services it runs (app.services grouped by the server's roles) and the
volumes attached to it. The plan JSON adds the monthly cost and budget status to the title; with an
empty plan the diagram is drawn from the config alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from config.schema import StackConfig
from spec.resources import PlatformSpec, ServerSpec, resolve
from spec.service_homes import placement


def node_id(prefix: str, name: str) -> str:
    """A Mermaid-safe id: letters, digits and _ only, always prefixed (so never a keyword like `end`)."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"


def label(*parts: str) -> str:
    """A quoted label; lines joined with <br/>, quotes escaped the Mermaid way."""
    text = "<br/>".join(part for part in parts if part)
    return '"' + text.replace('"', "#quot;") + '"'


def _services_by_server(config: StackConfig, spec: PlatformSpec) -> dict[str, list[tuple[str, str]]]:
    """(service, image) per server, as the compose files place them (proxy included)."""
    placed = placement(config)
    return {server.name: [(name, service.image) for name, service in placed[server.name].items()] for server in spec.servers}


def _title(plan_json: Mapping[str, Any], spec: PlatformSpec) -> str:
    title = f"{spec.prefix} in {spec.location}"
    cost = plan_json.get("cost") if isinstance(plan_json.get("cost"), Mapping) else None
    if cost and cost.get("total_net_eur") is not None:
        total = Decimal(str(cost["total_net_eur"])).quantize(Decimal("0.01"))
        title += f" · EUR {total}/month net"
        if cost.get("budget_eur") is not None:
            budget = Decimal(str(cost["budget_eur"])).quantize(Decimal("0.01"))
            title += f", budget {budget} ({cost.get('status', 'unknown')})"
    # Front matter is YAML: a plain scalar must not contain ": ".
    return title.replace(": ", " - ")


def _server_title(server: ServerSpec) -> str:
    text = f"{server.name} · {server.server_type} · {', '.join(server.roles)}"
    return f"{text} · {server.private_ip}" if server.private_ip else text


@dataclass
class _Chart:
    """The flowchart as it is written: node lines first, then the edges between them."""

    lines: list[str]
    edges: list[str] = field(default_factory=list)

    def add(self, text: str, indent: int = 1) -> None:
        self.lines.append("  " * indent + text)


def mermaid(plan_json: Mapping[str, Any], config: StackConfig, spec: PlatformSpec | None = None) -> str:
    """`spec`: the plan's resolved specs when the caller has them (resolved from `config` otherwise)."""
    spec = spec if spec is not None else resolve(config)
    chart = _Chart(["---", f"title: {_title(plan_json, spec)}", "---", "flowchart LR"])
    chart.add(f"users(({label('Users')}))")
    admins = ", ".join(config.ssh.admin_cidrs)
    chart.add(f"admins([{label('Admins', admins)}])")
    targets = _entry_points(chart, spec)
    _dns(chart, spec, targets)
    _servers(chart, spec, _services_by_server(config, spec))
    _links(chart, config, spec)
    return "\n".join(chart.lines + ["  " + edge for edge in chart.edges]) + "\n"


def _entry_points(chart: _Chart, spec: PlatformSpec) -> dict[str, str]:
    """The load balancer and the floating IP: {DNS record target: node id}."""
    targets: dict[str, str] = {}
    if spec.load_balancer is not None:
        lb = spec.load_balancer
        listen = ", ".join(f"{s.protocol} {s.listen_port}→{s.destination_port}" for s in lb.services)
        check = lb.health_check
        where = str(check.port) if check.port is not None else "each port"
        health = f"health http {where} {check.path}" if check.protocol == "http" else f"health tcp {where}"
        chart.add(f"lb{{{{{label(f'Load balancer {lb.lb_type}', listen, health)}}}}}")
        targets["load_balancer"] = "lb"
    if spec.floating_ip is not None:
        fip = spec.floating_ip
        kind = "IPv4" if fip.ip_type == "ipv4" else "IPv6"
        chart.add(f"fip([{label(f'Floating {kind}', f'on {fip.server}')}])")
        targets["floating_ip"] = "fip"
    return targets


def _dns(chart: _Chart, spec: PlatformSpec, targets: dict[str, str]) -> None:
    """Public entry: DNS names -> load balancer | floating IP | server public IPv4."""
    if not (spec.dns_zone and spec.dns_records):
        entry = targets.get("load_balancer") or targets.get("floating_ip")
        if entry:
            chart.edges.append(f"users --> {entry}")
        else:
            web = [s.name for s in spec.servers if "web" in s.roles] or [spec.servers[0].name]
            chart.edges += [f"users -->|{label('public IPv4')}| {node_id('srv', name)}" for name in web]
        return
    dns_names: dict[str, str] = {}
    proxied = any(record.proxied for record in spec.dns_records)
    chart.add(f"subgraph dns[{label(f'Cloudflare DNS · {spec.dns_zone}' + (' · proxied' if proxied else ''))}]")
    for record in spec.dns_records:
        if record.record_type == "CAA" or record.fqdn in dns_names:
            continue
        dns_names[record.fqdn] = node_id("dns", record.fqdn)
        chart.add(f"{dns_names[record.fqdn]}[{label(record.fqdn)}]", 2)
        target = targets.get(record.target) or (
            node_id("srv", record.target.split(":", 1)[1]) if record.target.startswith("server:") else None
        )
        if target:
            chart.edges.append(f"{dns_names[record.fqdn]} --> {target}")
    chart.add("end")
    chart.edges.append("users --> dns")


def _servers(chart: _Chart, spec: PlatformSpec, services: dict[str, list[tuple[str, str]]]) -> None:
    """Servers (inside the private network when there is one) with their services, then the volumes."""
    indent = 1
    if spec.network is not None:
        chart.add(f"subgraph net[{label(f'Private network {spec.network.subnet}')}]")
        indent = 2
    for server in spec.servers:
        server_id = node_id("srv", server.name)
        chart.add(f"subgraph {server_id}[{label(_server_title(server))}]", indent)
        names = services[server.name]
        if names:
            for service, image in names:
                chart.add(f"{node_id('svc', f'{server.name}_{service}')}[{label(service, image)}]", indent + 1)
        else:
            chart.add(f"{node_id('host', server.name)}[{label('Docker host', 'no app.services for these roles')}]", indent + 1)
        chart.add("end", indent)
    if spec.network is not None:
        chart.add("end")
    for volume in spec.volumes:
        vol = node_id("vol", volume.name)
        chart.add(f"{vol}[({label(f'Volume {volume.name}', f'{volume.size_gb} GB · {volume.mount_point}')})]")
        chart.edges.append(f"{vol} --- {node_id('srv', volume.server)}")


def _links(chart: _Chart, config: StackConfig, spec: PlatformSpec) -> None:
    """Load balancer and floating IP to their servers, app servers to the database servers, SSH from admins."""
    if spec.load_balancer is not None:
        how = "private IP" if spec.load_balancer.use_private_ip else "public IP"
        chart.edges += [f"lb -->|{label(how)}| {node_id('srv', name)}" for name in spec.load_balancer.targets]
    if spec.floating_ip is not None:
        chart.edges.append(f"fip -.-> {node_id('srv', spec.floating_ip.server)}")
    db_servers = [s.name for s in spec.servers if "db" in s.roles]
    for server in spec.servers:
        if "db" in server.roles:
            continue
        chart.edges += [f"{node_id('srv', server.name)} -.->|{label('private network')}| {node_id('srv', db)}" for db in db_servers]
    chart.edges += [f"admins -.->|{label(f'SSH {config.ssh.port}')}| {node_id('srv', s.name)}" for s in spec.servers]
