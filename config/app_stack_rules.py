"""The app section checked against the rest of the stack: servers and placement, DNS records for every
served name, the load balancer, the proxy's certificates."""

from __future__ import annotations

from config.app_files import RedisTuning
from config.compose_file import closest, compose_file_issues
from config.errors import ConfigIssue
from config.formats import MAX_DNS_NAME
from config.schema import StackConfig
from config.stack_views import candidate_servers, dns_record_for, placement_names, service_fqdn


def app_stack_issues(stack: StackConfig) -> list[ConfigIssue]:
    """Checks of app against servers, dns, load balancer and ssh (part of config/cross_checks.py)."""
    app = stack.app
    issues = _server_issues(stack)
    exposed = app.exposed()
    if app.jobs and not (stack.ops.enabled and stack.ops.alerts.enabled):
        issues.append(ConfigIssue("app.jobs", (
            "jobs are installed by the ops step and report failures through its alerts: keep ops.enabled and "
            "ops.alerts.enabled true"
        )))
    if app.redirects and not exposed:
        issues.append(ConfigIssue("app.redirects", "redirects need an exposed service (the proxy runs with it)"))
    if exposed and app.domain is None and stack.dns is None:
        issues.append(ConfigIssue("app.domain", "exposed services need a domain: set app.domain or a dns section"))
    where = placement_names(stack)
    issues += _load_balancer_issues(stack, where)
    issues += _dns_record_issues(stack)
    proxy_servers = [server for server, names in where.items() if any(n in exposed for n in names)]
    if len(proxy_servers) > 1 and stack.dns is None and app.proxy.acme:
        issues.append(ConfigIssue(
            "app.proxy",
            f"the proxy runs on {len(proxy_servers)} servers: Let's Encrypt HTTP-01 behind a load balancer "
            "fails randomly; configure dns (Cloudflare) so DNS-01 is used",
        ))
    hosting = [server for server, names in where.items() if names]
    if stack.network is not None and len(hosting) > 1:
        for name, service in app.services.items():
            if isinstance(service.config_files, RedisTuning) and service.config_files.password_secret is None:
                issues.append(ConfigIssue(
                    f"app.services.{name}.configFiles.passwordSecret",
                    "Redis is published on the private network of a multi-server stack: set a password secret",
                ))
    if app.compose_file is not None:
        issues += compose_file_issues(app.compose_file, app.services)
    return issues


def _server_issues(stack: StackConfig) -> list[ConfigIssue]:
    """A pinned server must exist; a stateful service with several candidate servers must be pinned."""
    issues: list[ConfigIssue] = []
    for name, service in stack.app.services.items():
        path = f"app.services.{name}"
        if service.server is not None and service.server not in stack.servers:
            issues.append(ConfigIssue(
                f"{path}.server", f"no server named '{service.server}'{closest(service.server, set(stack.servers))}"
            ))
            continue
        candidates = candidate_servers(stack, service)
        if service.stateful and service.server is None and len(candidates) > 1:
            issues.append(ConfigIssue(
                f"{path}.server",
                f"stateful service (volumes or a database) and {len(candidates)} servers have the "
                f"'{service.role}' role ({', '.join(candidates)}): pin it with server",
            ))
    return issues


def _load_balancer_issues(stack: StackConfig, where: dict[str, list[str]]) -> list[ConfigIssue]:
    """Every exposed service runs on a server the load balancer targets; PROXY protocol needs its private IP."""
    lb = stack.load_balancer
    if lb is None:
        return []
    issues: list[ConfigIssue] = []
    targets = set(stack.servers_with_role(lb.target_role))
    for name, service in stack.app.exposed().items():
        off = [s for s in where if name in where[s] and s not in targets]
        if off and not service.admin_only:
            issues.append(ConfigIssue(
                f"app.services.{name}.role",
                f"exposed but placed on {', '.join(off)}, which the load balancer does not target "
                f"(targetRole {lb.target_role})",
            ))
    if any(service.proxy_protocol for service in lb.services) and not lb.use_private_ip:
        issues.append(ConfigIssue(
            "loadBalancer.usePrivateIp",
            "PROXY protocol needs the load balancer's private address: the proxy trusts only that address",
        ))
    return issues


def _dns_record_issues(stack: StackConfig) -> list[ConfigIssue]:
    """With a dns section: a record for every redirect source and served name, not proxied for adminOnly."""
    dns = stack.dns
    if dns is None:
        return []
    issues: list[ConfigIssue] = []
    for index, redirect in enumerate(stack.app.redirects):
        if dns_record_for(stack, redirect.from_) is None:
            issues.append(ConfigIssue(
                f"app.redirects[{index}].from",
                f"{service_fqdn(stack, redirect.from_)} has no record in dns.records (add '{redirect.from_}')",
            ))
    for name, service in stack.app.exposed().items():
        assert service.expose is not None
        for position, host in enumerate(service.expose.names):
            record = dns_record_for(stack, host)
            fqdn = service_fqdn(stack, host)
            field = "expose.host" if service.expose.hosts is None else f"expose.hosts[{position}]"
            if len(fqdn) > MAX_DNS_NAME:
                issues.append(ConfigIssue(f"app.services.{name}.{field}", f"{fqdn} is longer than {MAX_DNS_NAME} characters"))
                continue
            if record is None:
                issues.append(ConfigIssue(
                    f"app.services.{name}.{field}", f"{fqdn} has no record in dns.records (add '{host}' or a wildcard)",
                ))
            elif service.admin_only and dns.is_proxied(record):
                issues.append(ConfigIssue(
                    f"app.services.{name}.adminOnly",
                    f"{fqdn} is proxied by Cloudflare, so the proxy sees Cloudflare's addresses and the "
                    "admin allow-list would block everyone: give it a record with proxied: false",
                ))
    return issues
