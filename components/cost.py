"""Cost report, budget and capacity guards inside the Pulumi program.

The program prices its specs once the last deployment's outputs are read (they carry each server's order
date, spec/order_dates.py), so the guards are checks of the deployment gate (components/deployment_guard.py):
`guard_refusal(plan_cost)` is the message that stops the run before ANY resource of the stack is
registered - over an enforced budget, a total an enforced budget cannot check (a line without a price), or
a server over capacity. At warn / critical (or over but not enforced) `log_warnings` logs a warning.
`enforce_budget` / `enforce_capacity` raise the same messages directly (for callers that hold a PlanCost).
`CostReport` carries the priced breakdown as a stack output.
"""

from __future__ import annotations

from typing import Any

import pulumi

from cost.api import PlanCost


def guard_refusal(plan_cost: PlanCost) -> str | None:
    """Why `pulumi up` must stop (budget and capacity messages joined), or None."""
    messages = [plan_cost.guard_message(), plan_cost.capacity_guard_message()]
    found = [message for message in messages if message is not None]
    return "\n\n".join(found) if found else None


def log_warnings(plan_cost: PlanCost) -> None:
    for warning in plan_cost.warnings:
        pulumi.log.warn(warning)


def enforce_budget(plan_cost: PlanCost) -> None:
    message = plan_cost.guard_message()
    if message is not None:
        raise pulumi.RunError(message)
    log_warnings(plan_cost)


def enforce_capacity(plan_cost: PlanCost) -> None:
    """Over capacity (the compose limits do not fit a server): stop before any resource is declared."""
    message = plan_cost.capacity_guard_message()
    if message is not None:
        raise pulumi.RunError(message)


class CostReport(pulumi.ComponentResource):
    """hetzner-platform:cost:CostReport: no cloud resources, only the priced breakdown as outputs."""

    breakdown: pulumi.Output[dict[str, Any]]
    total_net_eur: pulumi.Output[float]
    status: pulumi.Output[str]

    def __init__(self, name: str, plan_cost: pulumi.Input[PlanCost], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hetzner-platform:cost:CostReport", name, None, opts)
        priced = pulumi.Output.from_input(plan_cost)
        cost = priced.apply(lambda plan: plan.cost_json())
        self.breakdown = cost
        self.capacity = priced.apply(lambda plan: plan.capacity_json())
        self.total_net_eur = cost.apply(lambda document: document["total_net_eur"])
        self.status = cost.apply(lambda document: document["status"])
        self.register_outputs({
            "breakdown": self.breakdown,
            "capacity": self.capacity,
            "totalNetEur": self.total_net_eur,
            "status": self.status,
        })
