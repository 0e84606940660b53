"""Order dates through the real program: the `servers` output records each server's orderedOn, and the
next run reads it back through the self-StackReference (PreviousDeploymentMocks stands in for the last
deployment, as `plan --previous` does) and prices the server by it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import cli.evaluate
from cli.evaluate import Evaluation
from cost.report import render_plan
from tests.growth.support import PreviousDeploymentMocks
from tests.stacks import PROD, variant, write_stack

AS_OF = "2026-11-23"  # a fixed pricing date (the catalogue's), never today
PRICED = variant(PROD, pricing={"asOf": AS_OF})
SSH_OUTPUT = {"port": 2222, "adminUser": "deploy"}


def evaluate_after(tmp_path: Path, values: dict[str, Any], last: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Evaluation:
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: PreviousDeploymentMocks(outputs=last))
    return cli.evaluate.evaluate(write_stack(tmp_path, values))


def server_line(evaluation: Evaluation) -> Any:
    return next(line for line in evaluation.platform.plan_cost.lines if line.kind == "server")


def test_a_new_server_records_the_pricing_date_as_its_order_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = evaluate_after(tmp_path, PRICED, {}, monkeypatch)
    assert first.outputs["servers"]["app"]["orderedOn"] == AS_OF
    line = server_line(first)
    assert (str(line.monthly_eur), line.epoch, line.order_origin) == ("8.49", "p2", "new order")


def test_the_next_run_keeps_the_recorded_order_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deployed on 2026-05-01 (before the 2026-06-15 prices): the invoice says 6.49, so must the plan."""
    last = {"servers": {"app": {"type": "cx33", "orderedOn": "2026-05-01", "diskGb": 80}}, "ssh": SSH_OUTPUT}
    later = evaluate_after(tmp_path, PRICED, last, monkeypatch)
    line = server_line(later)
    assert (str(line.monthly_eur), line.epoch, line.order_origin) == ("6.49", "p1", "previous deployment")
    assert later.outputs["servers"]["app"]["orderedOn"] == "2026-05-01"  # carried forward again
    assert later.platform.plan_cost.cost_json()["order_dates"] == {
        "app": {"ordered_on": "2026-05-01", "origin": "previous deployment"}}
    assert "app 2026-05-01 (from the last deployment) -> p1" in render_plan(later.platform.plan_cost)


def test_a_rescale_records_a_new_order_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    last = {"servers": {"app": {"type": "cx23", "orderedOn": "2026-05-01", "diskGb": 40}}, "ssh": SSH_OUTPUT}
    later = evaluate_after(tmp_path, PRICED, last, monkeypatch)
    assert later.outputs["servers"]["app"]["orderedOn"] == AS_OF
    assert server_line(later).order_origin == "rescale"
