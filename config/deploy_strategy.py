"""How a service moves to a new release: `recreate` or `blue-green` (app.services.<name>.strategy).

- recreate: `docker compose up` stops the old container and starts the new one (databases, caches,
  workers, singletons). A worker gets its stop_grace_period to finish, so two versions of a consumer never
  run at the same time.
- blue-green: the new release runs as a second compose project (`<project>-blue` / `<project>-green`) next
  to the live one; the proxy is switched to it only after its health check passed, the old colour drains
  and is stopped but kept, so `hp-rollback` can switch back in seconds (docs/deploys.md).

Default: blue-green for every service the proxy routes to (it has `expose`) and that keeps no data of its
own (no volumes, not postgres/redis), recreate for the rest. A service with volumes may still choose
blue-green: both colours then use its directories for the few seconds they overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from config.app_values import Strategy

if TYPE_CHECKING:
    from config.app_service import ServiceConfig

COLOURS = ("blue", "green")


def strategy_of(service: ServiceConfig) -> Strategy:
    if service.strategy is not None:
        return service.strategy
    return "blue-green" if service.expose is not None and not service.stateful else "recreate"


def colour_alias(service: str, colour: str) -> str:
    """The network alias the proxy reaches one colour of a blue-green service by (Docker's DNS)."""
    return f"{service}-{colour}"


def colour_project(project: str, colour: str) -> str:
    return f"{project}-{colour}"


def strategies_by_server(
    services_by_server: Mapping[str, Iterable[str]], services: Mapping[str, ServiceConfig]
) -> dict[str, dict[str, str]]:
    """server -> {app service: its strategy}, for the plan's host-step listing (servers without app services left out)."""
    return {
        server: {name: strategy_of(services[name]) for name in names if name in services}
        for server, names in ((server, list(names)) for server, names in services_by_server.items())
        if any(name in services for name in names)
    }
