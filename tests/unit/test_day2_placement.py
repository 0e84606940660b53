"""Placement groups only for servers created with them, and several spread groups past 10 servers
(issue 14, item 1)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import cli.evaluate
from cli.evaluate import Evaluation
from spec.placement import assign_placement_groups
from tests.growth.support import PreviousDeploymentMocks
from tests.stacks import PHASE2, PROD, write_stack

SERVER = "hcloud:index/server:Server"
GROUP = "hcloud:index/placementGroup:PlacementGroup"


def evaluate_after(tmp_path: Path, values: dict[str, Any], previous: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Evaluation:
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: PreviousDeploymentMocks(outputs=previous))
    return cli.evaluate.evaluate(write_stack(tmp_path, values))


def server_groups(evaluation: Evaluation) -> dict[str, str | None]:
    """Server name -> placement group name (None: not in a group), from the registered inputs."""
    groups = {int(group.id): group.name for group in evaluation.mocks.by_type(GROUP)}
    return {
        server.name: groups[int(server.inputs["placementGroupId"])] if server.inputs.get("placementGroupId") else None
        for server in evaluation.mocks.by_type(SERVER)
    }


def test_going_from_one_server_to_two_leaves_the_running_server_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = evaluate_after(tmp_path / "before", PROD, {}, monkeypatch)
    assert server_groups(before) == {"chrono-prod-app": None}
    two = copy.deepcopy(PROD)
    two["servers"]["web"] = {"serverType": "cx23", "roles": ["web"]}
    after = evaluate_after(tmp_path / "after", two, before.outputs, monkeypatch)
    # The running server never gets placement_group_id; the new one is created in the group.
    assert server_groups(after) == {"chrono-prod-app": None, "chrono-prod-web": "chrono-prod-spread"}
    assert after.outputs["servers"]["web"]["placementGroup"] == "chrono-prod-spread"


def test_going_back_to_one_server_keeps_its_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = evaluate_after(tmp_path / "before", PHASE2, {}, monkeypatch)
    assert set(server_groups(before).values()) == {"chrono-prod-spread"}
    # A stack deployed before the placementGroup output existed: inferred from the server count.
    legacy = copy.deepcopy(before.outputs)
    for entry in legacy["servers"].values():
        entry.pop("placementGroup")
    one = copy.deepcopy(PHASE2)
    one["servers"] = {"web": {"serverType": "cx43", "roles": ["web", "db", "worker"], "privateIp": "10.0.1.11"}}
    one["volumes"]["data"]["server"] = "web"
    after = evaluate_after(tmp_path / "after", one, legacy, monkeypatch)
    assert server_groups(after) == {"chrono-prod-web": "chrono-prod-spread"}


def test_twelve_servers_get_two_spread_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = copy.deepcopy(PHASE2)
    for absent in ("loadBalancer", "floatingIp", "dns"):
        values.pop(absent)
    values["budget"] = {"monthlyEur": 1000}
    values["servers"] = {f"node{n:02d}": {"serverType": "cx23", "roles": ["web", "db", "worker"] if n == 0 else ["worker"]}
                         for n in range(12)}
    values["volumes"]["data"]["server"] = "node00"
    evaluation = evaluate_after(tmp_path, values, {}, monkeypatch)
    groups = list(server_groups(evaluation).values())
    assert groups.count("chrono-prod-spread") == 10 and groups.count("chrono-prod-spread-2") == 2


def test_new_servers_fill_free_slots_and_existing_ones_stay() -> None:
    previous = {f"s{n}": {"placementGroup": "p-spread"} for n in range(9)} | {"old": {"placementGroup": None}}
    servers = [*previous, "new1", "new2", "new3"]
    assigned = assign_placement_groups("p", servers, previous)
    assert assigned["old"] is None
    assert all(assigned[f"s{n}"] == "p-spread" for n in range(9))
    assert [assigned["new1"], assigned["new2"], assigned["new3"]] == ["p-spread", "p-spread-2", "p-spread-2"]
