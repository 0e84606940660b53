"""The budget guard and the CostReport component under Pulumi mocks (no engine, no cloud)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from cost_stacks import build, phase1_raw

from components.cost import CostReport, enforce_budget
from cost.api import PlanCost, plan_sections

pytestmark = pytest.mark.cost

LOGGER = "hetzner-platform.cost-tests"


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[tuple[str, str]] = []
        self._ids = itertools.count(1001)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.created.append((args.typ, args.name))
        return str(next(self._ids)), dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, []


@pytest.fixture
def mocks() -> Iterator[RecordingMocks]:
    recording = RecordingMocks()
    pulumi.runtime.set_mocks(recording, project="hetzner-platform", stack="test", preview=False, logger=logging.getLogger(LOGGER))
    yield recording


def plan_with_budget(monthly: float, *, enforce: bool = True, warn: float | None = None, critical: float | None = None) -> PlanCost:
    raw = phase1_raw("2026-07-01")  # EUR 28.04
    raw["app"] = {"services": {}}
    raw["budget"] = {"monthlyEur": monthly, "enforce": enforce}
    if warn is not None:
        raw["budget"]["warnEur"] = warn
    if critical is not None:
        raw["budget"]["criticalEur"] = critical
    config, spec = build(raw)
    return plan_sections(config, spec)


def program(plan: PlanCost) -> tuple[pulumi.CustomResource, CostReport]:
    """The order the platform program uses: the guard first, then resources."""
    enforce_budget(plan)
    import pulumi_hcloud as hcloud

    server = hcloud.Server("app", server_type="cx33", image="ubuntu-24.04", location="nbg1")
    return server, CostReport("cost", plan)


def test_over_an_enforced_budget_stops_before_any_resource(mocks: RecordingMocks) -> None:
    plan = plan_with_budget(25)
    with pytest.raises(pulumi.RunError) as caught:
        program(plan)
    message = str(caught.value)
    assert message == plan.guard_message()
    assert "budget of EUR 25.00" in message and "EUR 28.04/month" in message and "by EUR 3.04" in message
    assert "Server app (cx33) EUR 8.49, Load balancer lb11 EUR 7.49, Volume data (100 GB) EUR 5.72" in message
    assert mocks.created == []


def test_over_but_not_enforced_only_warns(mocks: RecordingMocks, caplog: pytest.LogCaptureFixture) -> None:
    plan = plan_with_budget(25, enforce=False)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        enforce_budget(plan)
    assert any(record.getMessage().startswith("budget over:") for record in caplog.records)


@pytest.mark.parametrize(("warn", "critical", "status"), [(25, 28.5, "warn"), (20, 25, "critical")])
def test_warn_and_critical_are_logged(
    mocks: RecordingMocks, caplog: pytest.LogCaptureFixture, warn: float, critical: float, status: str
) -> None:
    plan = plan_with_budget(30, warn=warn, critical=critical)
    assert plan.status == status
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        enforce_budget(plan)
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith(f"budget {status}:") and "EUR 28.04/month" in m for m in messages)
    assert any("estimated prices" in m for m in messages)  # the floating IP estimate is surfaced too


@pulumi.runtime.test
def test_cost_report_exposes_the_breakdown(mocks: RecordingMocks) -> Any:
    plan = plan_with_budget(50)
    server, report = program(plan)

    def check(values: list[Any]) -> None:
        breakdown, total, status, _server_urn, _report_urn = values
        assert breakdown == plan.cost_json()
        assert total == 28.04 and status == "ok"
        assert ("hetzner-platform:cost:CostReport", "cost") in mocks.created
        assert ("hcloud:index/server:Server", "app") in mocks.created

    # The URNs make the check wait until both resources are registered with the mock monitor.
    return pulumi.Output.all(report.breakdown, report.total_net_eur, report.status, server.urn, report.urn).apply(check)
