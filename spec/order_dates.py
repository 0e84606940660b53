"""When each server was ordered: the date decides its price epoch (a server keeps the price of its order).

Sources, first match wins:

1. `servers.<name>.orderedOn` in the stack file;
2. the last deployment's `servers` output, which carries each server's `orderedOn` forward, unless the
   type changed since (a rescale is a new order, billed from the rescale on);
3. a server the last deployment does not have: a new order, on the pricing date (`pricing.asOf`, default
   today), which is also the date the program records in its outputs for the next run;
4. a server the last deployment has but without a recorded date (deployed before the outputs carried it):
   unknown, priced as a new order (the newest price: never below the invoice) until `orderedOn` is set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.schema import StackConfig

# The key in each entry of the program's `servers` output (components/platform.py writes it).
ORDERED_ON_OUTPUT_KEY = "orderedOn"
SERVERS_OUTPUT = "servers"

FROM_CONFIG = "config"
FROM_PREVIOUS = "previous deployment"
NEW_ORDER = "new order"
RESCALE = "rescale"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class OrderDate:
    date: dt.date | None  # None only for UNKNOWN
    origin: str  # FROM_CONFIG | FROM_PREVIOUS | NEW_ORDER | RESCALE | UNKNOWN

    @property
    def output_value(self) -> str | None:
        """What the program records in its `servers.<name>.orderedOn` output."""
        return None if self.date is None else self.date.isoformat()

    def describe(self, server: str) -> str:
        """'2026-05-01 (servers.app.orderedOn)', for the report's assumption line."""
        day = "unknown" if self.date is None else self.date.isoformat()
        reason = {
            FROM_CONFIG: f"servers.{server}.orderedOn",
            FROM_PREVIOUS: "from the last deployment",
            NEW_ORDER: "new order on the pricing date",
            RESCALE: "type changed since the last deployment: a rescale is a new order",
            UNKNOWN: f"deployed before order dates were recorded: priced as a new order, set servers.{server}.orderedOn",
        }[self.origin]
        return f"{day} ({reason})"


def recorded_order_date(entry: Any) -> dt.date | None:
    """The order date one server's entry of the last deployment's `servers` output recorded, if any."""
    return _parse_date(entry.get(ORDERED_ON_OUTPUT_KEY)) if isinstance(entry, Mapping) else None


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def resolve_order_dates(config: StackConfig, previous_outputs: Mapping[str, Any] | None, as_of: dt.date) -> dict[str, OrderDate]:
    """The order date of every server in `config` (stack-file order)."""
    previous_servers = (previous_outputs or {}).get(SERVERS_OUTPUT)
    if not isinstance(previous_servers, Mapping):
        previous_servers = {}
    dates: dict[str, OrderDate] = {}
    for name, server in config.servers.items():
        if server.ordered_on is not None:
            dates[name] = OrderDate(server.ordered_on, FROM_CONFIG)
            continue
        before = previous_servers.get(name)
        if not isinstance(before, Mapping):
            dates[name] = OrderDate(as_of, NEW_ORDER)
            continue
        old_type = before.get("type")
        if isinstance(old_type, str) and old_type.lower() != server.server_type:
            dates[name] = OrderDate(as_of, RESCALE)
            continue
        recorded = recorded_order_date(before)
        dates[name] = OrderDate(recorded, FROM_PREVIOUS) if recorded is not None else OrderDate(None, UNKNOWN)
    return dates
