"""The Pulumi program body: everything `__main__.py` runs, importable by tests and the offline plan."""

from __future__ import annotations

import os

import pulumi

from components.cost import CostReport, enforce_budget
from components.host import StepSource
from components.platform import Platform
from components.specs import resolve
from config.errors import ConfigError
from config.pulumi_config import load_from_pulumi
from cost.api import PlanCost, plan_sections

# The offline plan reports an exceeded budget or capacity itself (exit 1) and still lists the
# resources; `pulumi up`/`preview` stop before declaring anything.
BUDGET_GUARD_ENFORCED = True


def step_sources() -> list[StepSource]:
    from render.host import host_steps

    return [StepSource(lambda config, server, runtime, _secrets: host_steps(config, server, runtime))]


def capacity_guard_message(plan_cost: PlanCost) -> str | None:
    capacity = plan_cost.capacity_json()
    if capacity["ok"]:
        return None
    problems = [f"{server['server']}: {problem}" for server in capacity["servers"] for problem in server["problems"]]
    problems += [f"service {name} has no server with its role" for name in capacity["unplaced_services"]]
    return "Capacity guard: the compose limits do not fit the servers. " + "; ".join(problems) + ". Nothing was created."


def run() -> Platform:
    try:
        config, secrets = load_from_pulumi()
    except ConfigError as error:
        # RunError prints the message without a Python traceback.
        raise pulumi.RunError(error.render()) from None
    spec = resolve(config)
    # Priced from the same resolved specs the components create, before a single resource exists.
    plan_cost = plan_sections(config, spec, token=os.environ.get("HCLOUD_TOKEN"), endpoint=os.environ.get("HCLOUD_ENDPOINT"))
    if BUDGET_GUARD_ENFORCED:
        enforce_budget(plan_cost)
        capacity_problem = capacity_guard_message(plan_cost)
        if capacity_problem:
            raise pulumi.RunError(capacity_problem)
    platform = Platform("platform", config, secrets, step_sources=step_sources(), spec=spec)
    cost = CostReport("cost", plan_cost)
    platform.plan_cost = plan_cost
    for key, value in platform.outputs.items():
        pulumi.export(key, value)
    pulumi.export("cost", cost.breakdown)
    pulumi.export("capacity", cost.capacity)
    return platform
