"""The checks of `app.engine` against the servers, the network and the services, and the swarm's managers
(the settings and why their limits are what they are: config/swarm.py)."""

from __future__ import annotations

from config.errors import ConfigIssue
from config.schema import StackConfig
from config.swarm import ALLOWED_MANAGER_COUNTS, MANAGER_ROLE


def swarm_managers(stack: StackConfig) -> list[str]:
    """The managers in stack-file order: the servers with the manager role, else the first server."""
    managers = stack.servers_with_role(MANAGER_ROLE)
    return managers or [next(iter(stack.servers))]


def swarm_issues(stack: StackConfig) -> list[ConfigIssue]:
    """Checks of app.engine against the servers, the network and the services."""
    app = stack.app
    if app.engine != "swarm":
        return _compose_engine_issues(stack)
    issues: list[ConfigIssue] = []
    if stack.network is None:
        issues.append(ConfigIssue("app.engine", "swarm needs a private network (`network`): the nodes talk over it"))
    managers = swarm_managers(stack)
    if len(managers) not in ALLOWED_MANAGER_COUNTS:
        issues.append(ConfigIssue("servers", (
            f"{len(managers)} servers have the manager role ({', '.join(managers)}): a swarm needs an odd number "
            "(1 or 3) so that a majority of managers survives a failure; 2 managers fail when either one does"
        )))
    if app.compose_file is not None:
        issues.append(ConfigIssue("app.composeFile", "not supported with app.engine swarm: describe the services in app.services"))
    for name, service in app.services.items():
        if service.strategy == "blue-green":
            issues.append(ConfigIssue(f"app.services.{name}.strategy", (
                "blue-green is the compose engine's rollout; with app.engine swarm the swarm starts the new task "
                "first and rolls back by itself (app.swarm.update): remove strategy"
            )))
    if app.jobs:
        issues.append(ConfigIssue("app.jobs", "scheduled jobs run as one-off compose containers: not supported with app.engine swarm yet"))
    if app.registries:
        issues.append(ConfigIssue("app.registries", "the swarm deploy does not log in to private registries yet: use public images"))
    lb = stack.load_balancer
    if lb is not None and lb.health_check.protocol == "http" and lb.health_check.port is None:
        issues.append(ConfigIssue("loadBalancer.healthCheck.protocol", (
            "the proxy's private HTTP check port is compose-only: with app.engine swarm use protocol tcp "
            "(the load balancer then checks the proxy on each web node)"
        )))
    if app.exposed():
        issues += _proxy_issues(stack, managers)
    for name, service in app.services.items():
        path = f"app.services.{name}"
        if service.replicas is not None and service.stateful and service.replicas != 1:
            issues.append(ConfigIssue(f"{path}.replicas", (
                "a stateful service (volumes, postgres, redis) runs once, pinned to the node that holds its data"
            )))
        if service.restart == "no":
            issues.append(ConfigIssue(f"{path}.restart", "a swarm service is always restarted (restart_policy); drop restart: no"))
    return issues


def _compose_engine_issues(stack: StackConfig) -> list[ConfigIssue]:
    """With the compose engine: no swarm-only setting (the manager role, replicas)."""
    issues: list[ConfigIssue] = []
    for name, server in stack.servers.items():
        if MANAGER_ROLE in server.roles:
            issues.append(ConfigIssue(f"servers.{name}.roles", "the manager role needs app.engine swarm"))
    for name, service in stack.app.services.items():
        if service.replicas is not None:
            issues.append(ConfigIssue(
                f"app.services.{name}.replicas",
                "replicas needs app.engine swarm (with compose a service runs once on every server with its role)",
            ))
    return issues


def _proxy_issues(stack: StackConfig, managers: list[str]) -> list[ConfigIssue]:
    """Exposed services in a swarm: the proxy needs web servers, and Traefik needs them to be managers."""
    issues: list[ConfigIssue] = []
    web = stack.servers_with_role("web")
    if not web:
        issues.append(ConfigIssue("servers", "exposed services need a server with the web role: the proxy runs there"))
    if stack.app.proxy.kind == "traefik":
        # Traefik's swarm provider reads services from the Docker API of a manager.
        # https://doc.traefik.io/traefik/providers/swarm/ (endpoint: the manager's socket)
        outside = [name for name in web if name not in managers]
        if outside:
            issues.append(ConfigIssue("app.proxy.kind", (
                f"Traefik's swarm provider must run on managers, and web servers {', '.join(outside)} are not: "
                "give them the manager role or use proxy kind nginx"
            )))
    return issues
