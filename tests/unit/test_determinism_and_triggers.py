"""Same config, same inputs; a change re-runs only the remote commands whose script changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.evaluate import Evaluation
from tests.stacks import PROD, evaluate_values, variant


def inputs_by_resource(evaluation: Evaluation) -> dict[tuple[str, str], Any]:
    return {(r.type, r.name): (r.id, r.inputs) for r in evaluation.resources}


def triggers(evaluation: Evaluation) -> dict[str, Any]:
    return {r.name: r.inputs["triggers"] for r in evaluation.mocks.by_type("command:remote:Command")}


def changed_steps(before: Evaluation, after: Evaluation) -> set[str]:
    old, new = triggers(before), triggers(after)
    assert set(old) == set(new)
    return {name for name in old if old[name] != new[name]}


def test_two_evaluations_produce_identical_inputs(tmp_path: Path) -> None:
    first = evaluate_values(tmp_path / "a", PROD)
    second = evaluate_values(tmp_path / "b", PROD)
    assert inputs_by_resource(first) == inputs_by_resource(second)
    assert changed_steps(first, second) == set()


def test_a_host_setting_change_reruns_only_its_step(tmp_path: Path) -> None:
    before = evaluate_values(tmp_path / "a", PROD)
    after = evaluate_values(tmp_path / "b", variant(PROD, host={"swapGb": 8}))
    assert changed_steps(before, after) == {"host-app-base"}


def test_an_admin_port_change_reruns_only_the_firewall_step(tmp_path: Path) -> None:
    before = evaluate_values(tmp_path / "a", PROD)
    after = evaluate_values(tmp_path / "b", variant(PROD, host={"adminPorts": [5555]}))
    assert changed_steps(before, after) == {"host-app-firewall"}
