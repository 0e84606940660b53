"""Private addresses stay put when servers are added, removed or reordered (issue 14, item 10)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pulumi
import pytest

import cli.evaluate
from cli.evaluate import Evaluation
from config.errors import ConfigError
from config.loader import validate_config
from tests.growth.support import PreviousDeploymentMocks
from tests.stacks import PHASE2, variant, write_stack

SERVER_NETWORK = "hcloud:index/serverNetwork:ServerNetwork"


def evaluate_after(tmp_path: Path, values: dict[str, Any], previous: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Evaluation:
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: PreviousDeploymentMocks(outputs=previous))
    return cli.evaluate.evaluate(write_stack(tmp_path, values))


def attachments(evaluation: Evaluation) -> dict[str, str]:
    return {r.name: r.inputs["ip"] for r in evaluation.mocks.by_type(SERVER_NETWORK)}


def with_server(values: dict[str, Any], name: str, **server: Any) -> dict[str, Any]:
    changed = copy.deepcopy(values)
    changed["servers"][name] = {"serverType": "cx23", "roles": ["worker"], **server}
    return changed


def test_first_deployment_numbers_from_10_in_name_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluation = evaluate_after(tmp_path, PHASE2, {}, monkeypatch)
    assert attachments(evaluation) == {"chrono-prod-db-net": "10.0.1.10", "chrono-prod-web-net": "10.0.1.11",
                                       "chrono-prod-worker-net": "10.0.1.12"}


@pytest.mark.usefixtures("quiet_refusal")
def test_adding_a_server_that_sorts_first_is_refused_with_the_pins_to_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = evaluate_after(tmp_path / "before", PHASE2, {}, monkeypatch)
    with pytest.raises(pulumi.RunError) as caught:
        evaluate_after(tmp_path / "after", with_server(PHASE2, "batch"), before.outputs, monkeypatch)
    message = str(caught.value)
    assert message.startswith("Private IP guard: this change would move running servers")
    assert "db 10.0.1.10 -> 10.0.1.11" in message
    for line in ("servers.db.privateIp: 10.0.1.10", "servers.web.privateIp: 10.0.1.11", "servers.worker.privateIp: 10.0.1.12"):
        assert line in message


def test_pinned_servers_keep_their_addresses_when_one_is_added_or_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = evaluate_after(tmp_path / "before", PHASE2, {}, monkeypatch)
    pinned = copy.deepcopy(PHASE2)
    for name, address in {"db": "10.0.1.10", "web": "10.0.1.11", "worker": "10.0.1.12"}.items():
        pinned["servers"][name]["privateIp"] = address
    added = evaluate_after(tmp_path / "added", with_server(pinned, "batch"), before.outputs, monkeypatch)
    assert attachments(added) == {**attachments(before), "chrono-prod-batch-net": "10.0.1.13"}
    # Removing db: the others stay where they are.
    removed_values = copy.deepcopy(pinned)
    removed_values["servers"].pop("worker")
    removed = evaluate_after(tmp_path / "removed", removed_values, before.outputs, monkeypatch)
    assert attachments(removed) == {k: v for k, v in attachments(before).items() if "worker" not in k}


@pytest.mark.parametrize(("address", "reason"), [
    ("10.0.2.10", "not a host address of the subnet 10.0.1.0/24"),
    ("10.0.1.1", "reserved for Hetzner's gateway"),
    ("10.0.1.5", "reserved for the load balancer"),
    ("not-an-ip", "not an IPv4 address"),
])
def test_bad_pins_are_refused_with_the_field(address: str, reason: str) -> None:
    values = copy.deepcopy(PHASE2)
    values["servers"]["db"]["privateIp"] = address
    with pytest.raises(ConfigError) as caught:
        validate_config(values)
    assert any(i.path == "servers.db.privateIp" and reason in i.reason for i in caught.value.issues), caught.value.issues


def test_two_servers_with_one_address_are_refused() -> None:
    values = copy.deepcopy(PHASE2)
    values["servers"]["db"]["privateIp"] = "10.0.1.20"
    values["servers"]["web"]["privateIp"] = "10.0.1.20"
    with pytest.raises(ConfigError) as caught:
        validate_config(values)
    assert any("already the address of server" in i.reason for i in caught.value.issues)


def test_a_pin_without_network_is_refused() -> None:
    from tests.stacks import STAGING

    values = variant(STAGING, servers={"app": {"serverType": "cx23", "privateIp": "10.0.1.10"}})
    with pytest.raises(ConfigError) as caught:
        validate_config(values)
    assert any(i.path == "servers.app.privateIp" and "private network" in i.reason for i in caught.value.issues)
