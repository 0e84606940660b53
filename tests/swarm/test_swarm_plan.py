"""The offline plan of the swarm preset: the membership commands, their secrets, the leader deploying
last, the stack file in --out, and the capacity and config refusals as exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixed_date import GENERATED_AS_OF
from tests.stacks import SWARM_PRESET, swarm_values
from tests.unit.test_plan_cli import plan, write


@pytest.fixture(scope="module")
def preset_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("swarm-plan") / "out"
    result = plan("--config-file", str(SWARM_PRESET), "--as-of", GENERATED_AS_OF.isoformat(), "--json", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), out


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {resource["name"]: resource for resource in document["resources"] if resource["type"] == "command:remote:Command"}


def test_membership_commands_and_their_secrets(preset_plan: tuple[dict[str, Any], Path]) -> None:
    commands = by_name(preset_plan[0])
    assert {name for name in commands if name.startswith("swarm-")} == {
        "swarm-init", "swarm-join-m2", "swarm-join-m3", "swarm-node-m1", "swarm-node-m2", "swarm-node-m3",
    }
    # The join scripts carry a token: secret stdin, no logging. The init's output (the tokens) is not logged.
    for name in ("swarm-join-m2", "swarm-join-m3"):
        assert commands[name]["inputs"]["stdin"] == "[secret]"
        assert commands[name]["inputs"]["logging"] == "none"
    assert commands["swarm-init"]["inputs"]["logging"] == "none"
    # Every node command drains and removes its node when it is deleted (the server leaves the stack).
    assert all("delete" in commands[f"swarm-node-{server}"]["inputs"] for server in ("m1", "m2", "m3"))


def test_leader_deploys_after_every_other_server(preset_plan: tuple[dict[str, Any], Path]) -> None:
    assert list(preset_plan[0]["host_steps"]) == ["m2", "m3", "m1"]
    assert preset_plan[0]["host_steps"]["m1"][-2:] == ["app", "ops"]


def test_out_holds_the_stack_file_on_the_leader_only(preset_plan: tuple[dict[str, Any], Path]) -> None:
    out = preset_plan[1]
    stack = out / "m1" / "rootfs" / "opt" / "swarmshop" / "stack" / "stack.yml"
    assert yaml.safe_load(stack.read_text())["services"]["api"]["deploy"]["replicas"] == 4
    assert not (out / "m2" / "rootfs" / "opt" / "swarmshop" / "stack").exists()
    daemon = json.loads((out / "m2" / "rootfs" / "etc" / "docker" / "daemon.json").read_text())
    assert daemon["live-restore"] is False
    app = next((out / "m2" / "steps").glob("*-app.sh")).read_text()
    assert "DEPLOY=0" in app and "docker stack deploy" in app  # the template; only the leader runs it
    assert "DEPLOY=1" in next((out / "m1" / "steps").glob("*-app.sh")).read_text()
    # The membership scripts, as components/swarm.py sends them (join tokens as the plan's stand-ins).
    assert sorted(path.name for path in (out / "m1" / "swarm").iterdir()) == [
        "swarm-init.sh", *sorted(f"swarm-{kind}-{server}.sh" for kind in ("leave", "node") for server in ("m1", "m2", "m3")),
    ]
    assert "SWMTKN-1-planstandin-manager" in (out / "m2" / "swarm" / "swarm-join.sh").read_text()


def test_capacity_counts_replicas_times_limits_per_node(preset_plan: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    assert preset_plan[0]["capacity"]["placement_rule"].startswith("app.engine swarm: a service's replicas spread")
    capacity = {server["server"]: server for server in preset_plan[0]["capacity"]["servers"]}
    assert capacity["m1"]["ram_gb_allocated"] == pytest.approx(2 + 0.125)  # two api tasks + traefik
    values = swarm_values()
    values["app"]["services"]["api"]["replicas"] = 12  # 6 x 1 GB per web server: a cx33 has 8 GB
    result = plan("--config-file", str(write(tmp_path, values)), "--as-of", GENERATED_AS_OF.isoformat(), "--json")
    assert result.returncode == 1, result.stderr
    over = {server["server"] for server in json.loads(result.stdout)["capacity"]["servers"] if not server["ok"]}
    assert over == {"m1", "m2"}


def test_an_even_manager_count_exits_2_naming_the_field(tmp_path: Path) -> None:
    values = swarm_values()
    values["servers"]["m3"]["roles"] = ["db", "worker"]
    values["app"]["proxy"] = {"kind": "nginx"}
    result = plan("--config-file", str(write(tmp_path, values)), "--as-of", GENERATED_AS_OF.isoformat())
    assert result.returncode == 2
    assert "servers: 2 servers have the manager role (m1, m2)" in result.stderr
    assert "Traceback" not in result.stderr
