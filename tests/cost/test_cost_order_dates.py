"""Order dates: each server line shows its epoch and order date, taken from orderedOn or carried forward
from the last deployment's outputs (the cost-level function; tests/unit/test_order_dates_program.py runs
the same through the Pulumi program and its self-StackReference)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from cost_stacks import build, phase1_raw

from cost.api import PlanCost, plan_sections
from cost.report import render_plan
from spec.order_dates import FROM_PREVIOUS, NEW_ORDER, RESCALE, UNKNOWN, OrderDate, resolve_order_dates

pytestmark = pytest.mark.cost


def plan(raw: dict[str, Any], previous: dict[str, Any] | None) -> PlanCost:
    config, spec = build(raw)
    return plan_sections(config, spec, previous_outputs=previous)


def server_line(result: PlanCost) -> dict[str, Any]:
    return next(entry for entry in result.cost_json()["lines"] if entry["kind"] == "server")


def test_order_date_carried_forward_from_the_last_deployment() -> None:
    """prod without orderedOn, deployed on 2026-05-01: billed 6.49 (p1), not the 8.49 of a new order."""
    previous = {"servers": {"app": {"type": "cx33", "orderedOn": "2026-05-01", "diskGb": 80}}}
    result = plan(phase1_raw(None), previous)
    line = server_line(result)
    assert (line["monthly_eur"], line["epoch"], line["ordered_on"], line["order_origin"]) == (6.49, "p1", "2026-05-01", FROM_PREVIOUS)
    assert result.total_net_eur == Decimal("25.64")  # 28.04 when priced as a new order
    text = render_plan(result)
    assert "Order dates (a server keeps the price epoch of its order date; a rescale is a new order): " \
           "app 2026-05-01 (from the last deployment) -> p1." in text
    row = next(row for row in text.splitlines() if row.lstrip().startswith("Server app (cx33)"))
    assert row.split()[7:9] == ["p1", "2026-05-01"], row


def test_without_a_previous_deployment_a_server_is_a_new_order() -> None:
    result = plan(phase1_raw(None), None)
    line = server_line(result)
    assert (line["monthly_eur"], line["epoch"], line["ordered_on"], line["order_origin"]) == (8.49, "p2", "2026-11-23", NEW_ORDER)
    assert result.cost_json()["order_dates"] == {"app": {"ordered_on": "2026-11-23", "origin": NEW_ORDER}}


def test_a_type_change_is_a_new_order() -> None:
    previous = {"servers": {"app": {"type": "cx23", "orderedOn": "2026-05-01"}}}
    line = server_line(plan(phase1_raw(None), previous))
    assert (line["monthly_eur"], line["order_origin"]) == (8.49, RESCALE)


def test_a_server_deployed_before_dates_were_recorded_is_unknown_and_priced_as_new() -> None:
    previous = {"servers": {"app": {"type": "cx33", "diskGb": 80}}}
    result = plan(phase1_raw(None), previous)
    line = server_line(result)
    assert (line["monthly_eur"], line["ordered_on"], line["order_origin"]) == (8.49, None, UNKNOWN)
    assert "set servers.app.orderedOn" in render_plan(result)
    assert result.cost_json()["order_dates"]["app"] == {"ordered_on": None, "origin": UNKNOWN}


def test_the_stack_file_wins_over_the_previous_deployment() -> None:
    previous = {"servers": {"app": {"type": "cx33", "orderedOn": "2026-07-01"}}}
    line = server_line(plan(phase1_raw("2026-05-01"), previous))
    assert (line["monthly_eur"], line["ordered_on"], line["order_origin"]) == (6.49, "2026-05-01", "config")


def test_resolve_order_dates_ignores_a_malformed_recorded_date() -> None:
    config, _ = build(phase1_raw(None))
    dates = resolve_order_dates(config, {"servers": {"app": {"type": "cx33", "orderedOn": "yesterday"}}}, dt.date(2026, 11, 23))
    assert dates == {"app": OrderDate(None, UNKNOWN)}
