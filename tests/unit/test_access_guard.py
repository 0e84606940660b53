"""Changing ssh.port/adminUser on a deployed stack would lock every remote command out: the deployment
guard refuses it before any resource is registered (under mocks whose StackReference answers with the
last deployment's outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

import cli.evaluate
from cli.evaluate import Evaluation
from components.deployment_guard import self_stack_name
from tests.growth.support import PreviousDeploymentMocks
from tests.stacks import PROD, variant, write_stack


def evaluate_after(tmp_path: Path, values: dict[str, Any], last: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Evaluation:
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: PreviousDeploymentMocks(outputs=last))
    return cli.evaluate.evaluate(write_stack(tmp_path, values))


def test_first_deployment_and_unchanged_access_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = evaluate_after(tmp_path / "a", PROD, {}, monkeypatch)
    assert first.outputs["ssh"] == {"port": 2222, "adminUser": "deploy"}
    same = evaluate_after(tmp_path / "b", PROD, {"ssh": {"port": 2222, "adminUser": "deploy"}}, monkeypatch)
    assert same.mocks.by_type("hcloud:index/firewall:Firewall") and same.mocks.by_type("command:remote:Command")


@pytest.mark.parametrize("change", [{"port": 2200}, {"adminUser": "ops"}])
@pytest.mark.usefixtures("quiet_refusal")
def test_port_or_user_change_is_refused_before_the_firewall_or_any_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]
) -> None:
    values = variant(PROD, ssh={**PROD["ssh"], **change})
    mocks = PreviousDeploymentMocks(outputs={"ssh": {"port": 2222, "adminUser": "deploy"}})
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: mocks)
    with pytest.raises(pulumi.RunError) as caught:
        cli.evaluate.evaluate(write_stack(tmp_path, values))
    message = str(caught.value)
    assert message.startswith("Access guard: ssh.port/adminUser changed from 2222/deploy") and "Safe procedure" in message
    # Not only the firewall and the commands: no resource of the stack was registered at all.
    assert [r.type for r in mocks.resources] == ["pulumi:pulumi:StackReference"]


@pytest.mark.usefixtures("quiet_refusal")
def test_resize_and_access_problems_are_reported_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = variant(PROD, ssh={**PROD["ssh"], "port": 2200}, servers={"app": {**PROD["servers"]["app"], "serverType": "cx23"}})
    last = {"ssh": {"port": 2222, "adminUser": "deploy"}, "servers": {"app": {"type": "cx33", "diskGb": 80}}}
    with pytest.raises(pulumi.RunError) as caught:
        evaluate_after(tmp_path, values, last, monkeypatch)
    message = str(caught.value)
    assert message.startswith("Resize guard: refusing to change the server type of app (cx33 -> cx23).")
    assert "\n\nAccess guard: ssh.port/adminUser changed from 2222/deploy to 2200/deploy." in message
    assert message.endswith("Nothing was created, changed or deleted.")


def test_confirmed_change_goes_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = variant(PROD, ssh={**PROD["ssh"], "port": 2200, "confirmAccessChange": True})
    evaluation = evaluate_after(tmp_path, values, {"ssh": {"port": 2222, "adminUser": "deploy"}}, monkeypatch)
    rules = evaluation.mocks.by_type("hcloud:index/firewall:Firewall")[0].inputs["rules"]
    assert any(rule.get("port") == "2200" for rule in rules)
    assert {int(c.inputs["connection"]["port"]) for c in evaluation.mocks.by_type("command:remote:Command")} == {2200}


@pytest.mark.parametrize(("organization", "expected"), [
    ("acme", "acme/hetzner-platform/prod"),  # Pulumi Cloud: the stack's own organization, not the user's default
    ("organization", "prod"),  # DIY backend: bare name (also what pre-3.61 DIY backends accept)
    ("", "prod"),
])
def test_the_stack_reads_itself_by_a_name_its_backend_accepts(
    organization: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulumi, "get_organization", lambda: organization)
    monkeypatch.setattr(pulumi, "get_project", lambda: "hetzner-platform")
    monkeypatch.setattr(pulumi, "get_stack", lambda: "prod")
    assert self_stack_name() == expected
