"""A mocked `pulumi up`: guards stop before any resource; secrets never surface in plain text;
a compose-only change re-runs only the app command."""

from __future__ import annotations

import base64
import binascii
import copy
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from cli.evaluate import Evaluation
from config.stack_file import read_stack_file
from tests.stacks import PROD, evaluate_values, variant, write_stack

ROOT = Path(__file__).resolve().parents[2]
PROD_FILE_VALUES: dict[str, Any] = read_stack_file(ROOT / "Pulumi.prod.yaml").values

SENTINELS = {
    "sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nSENTINEL-SSH-KEY-7f3a\n-----END OPENSSH PRIVATE KEY-----\n",
    "POSTGRES_PASSWORD": "SENTINELpostgres91c2",
    "alertWebhookUrl": "https://hooks.example.invalid/SENTINEL-webhook-55d1",
}


@pytest.mark.usefixtures("quiet_refusal")
def test_over_enforced_budget_stops_before_any_resource(tmp_path: Path) -> None:
    values = variant(PROD, budget={"monthlyEur": 20, "warnEur": 10, "criticalEur": 15, "enforce": True})
    with pytest.raises(pulumi.RunError) as caught:
        evaluate_values(tmp_path, values, enforce_budget=True)
    message = str(caught.value)
    assert "budget of EUR 20.00" in message and "Nothing was created" in message
    assert "Load balancer lb11 EUR 7.49" in message  # one of the three biggest lines is named


@pytest.mark.usefixtures("quiet_refusal")
def test_incomplete_total_under_an_enforced_budget_stops_before_any_resource(tmp_path: Path) -> None:
    """A legacy cpx21 in ash has no known price: an enforced budget cannot be checked, so it refuses."""
    values = variant(PROD, location="ash", servers={"app": {"serverType": "cpx21", "backups": True}})
    with pytest.raises(pulumi.RunError) as caught:
        evaluate_values(tmp_path, values, enforce_budget=True)
    message = str(caught.value)
    assert "cannot be checked against its budget of EUR 50.00: no price known for Server app (cpx21)" in message
    assert "server:cpx21" in message and "--live-prices" in message and "Nothing was created" in message


def test_warn_status_passes_with_a_warning(tmp_path: Path) -> None:
    values = variant(PROD, budget={"monthlyEur": 30, "warnEur": 25, "criticalEur": 29, "enforce": True})
    evaluation = evaluate_values(tmp_path, values, enforce_budget=True)
    assert evaluation.platform.plan_cost.status == "warn"
    assert evaluation.mocks.by_type("hcloud:index/server:Server")


@pytest.mark.usefixtures("quiet_refusal")
def test_over_capacity_stops_before_any_resource(tmp_path: Path) -> None:
    values = copy.deepcopy(PROD_FILE_VALUES)
    values["app"]["services"]["backend"]["limits"] = {"cpus": 3.0, "memory": "6G"}
    stack = write_stack(tmp_path, values)
    from cli.evaluate import evaluate

    with pytest.raises(pulumi.RunError) as caught:
        evaluate(stack, enforce_budget=True)
    assert "Capacity guard" in str(caught.value) and "app:" in str(caught.value)


def _with_sentinels(tmp_path: Path) -> Evaluation:
    values = copy.deepcopy(PROD_FILE_VALUES)
    values["sshPrivateKey"] = SENTINELS["sshPrivateKey"]
    values["appSecrets"] = {"POSTGRES_PASSWORD": SENTINELS["POSTGRES_PASSWORD"], "alertWebhookUrl": SENTINELS["alertWebhookUrl"]}
    stack = write_stack(tmp_path, values, extra={"cloudflare:apiToken": "SENTINEL-cf-token-0b9e"})
    from cli.evaluate import evaluate

    return evaluate(stack, enforce_budget=True)


B64_RUN = re.compile(r"(?:[A-Za-z0-9+/]{4}\n?){8,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def readable(text: str) -> str:
    """The text plus every base64 block decoded: scripts ship file contents base64-encoded."""
    decoded = []
    for match in B64_RUN.finditer(text):
        try:
            decoded.append(base64.b64decode(match.group(0).replace("\n", ""), validate=False).decode("utf-8", "replace"))
        except (ValueError, binascii.Error):
            continue
    return "\n".join([text, *decoded])


def _contains(value: Any, needle: str) -> list[str]:
    found: list[str] = []

    def walk(item: Any, path: str) -> None:
        if isinstance(item, dict):
            for key, sub in item.items():
                walk(sub, f"{path}.{key}" if path else str(key))
        elif isinstance(item, list):
            for index, sub in enumerate(item):
                walk(sub, f"{path}[{index}]")
        elif isinstance(item, str) and needle in readable(item):
            found.append(path)

    walk(value, "")
    return found


def test_secret_values_only_travel_as_pulumi_secrets(tmp_path: Path) -> None:
    evaluation = _with_sentinels(tmp_path)
    sentinels = [*SENTINELS.values(), "SENTINEL-cf-token-0b9e"]
    carriers: set[str] = set()
    for resource in evaluation.mocks.resources:
        for needle in sentinels:
            for path in _contains(resource.inputs, needle.strip().splitlines()[1] if "\n" in needle else needle):
                # Every input that carries a secret value must be marked secret by Pulumi, and a command
                # line (`create`) never carries one.
                assert path != "create", f"{resource.name}: secret on the command line"
                assert any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in resource.secret_paths), (
                    f"{resource.type} {resource.name}: {path} carries a secret but is not marked secret"
                )
                carriers.add(f"{resource.name}:{path}")
    # The proof must not be vacuous: the secrets did reach the host steps that need them.
    assert any(c.startswith("host-app-app:stdin") for c in carriers), carriers
    assert any(c.startswith("host-app-ops:stdin") for c in carriers), carriers
    assert any(":connection" in c for c in carriers), carriers
    # Plain outputs never hold them.
    for needle in sentinels:
        assert not _contains(evaluation.outputs, needle)


def _triggers(evaluation: Evaluation) -> dict[str, Any]:
    return {r.name: r.inputs["triggers"] for r in evaluation.mocks.by_type("command:remote:Command")}


def test_compose_only_change_reruns_only_the_app_command(tmp_path: Path) -> None:
    before = evaluate_values(tmp_path / "a", PROD_FILE_VALUES)
    changed = copy.deepcopy(PROD_FILE_VALUES)
    changed["app"]["services"]["backend"]["image"] = "ghcr.io/chrono/backend:2.0.1"
    after = evaluate_values(tmp_path / "b", changed)
    old, new = _triggers(before), _triggers(after)
    assert {name for name in old if old[name] != new[name]} == {"host-app-app"}
    again = evaluate_values(tmp_path / "c", PROD_FILE_VALUES)
    assert _triggers(again) == old
