"""`plan --previous`, resource inputs in `plan --json`, and the resource diff of `plan --compare`
(issue 14), run as a user runs them: subprocesses, real stack files, no token in the environment."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.resource_diff import SECRET_MASK, masked_inputs, resource_diff
from tests.stacks import PROD, write_stack_file

ROOT = Path(__file__).resolve().parents[2]


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "plan", *args], cwd=ROOT, capture_output=True, text=True, timeout=240,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def write(path: Path, values: dict[str, Any]) -> Path:
    return write_stack_file(path, values)


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The prod example stack planned once: the "last deployment" of the tests below."""
    directory = tmp_path_factory.mktemp("before")
    stack = write(directory / "Pulumi.before.yaml", PROD)
    result = plan("--config-file", str(stack), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (directory / "plan.json").write_text(result.stdout, encoding="utf-8")
    return directory / "plan.json", document


def test_plan_json_lists_each_resource_with_masked_inputs(before: tuple[Path, dict[str, Any]]) -> None:
    _, document = before
    resources = {(r["type"], r["name"]): r["inputs"] for r in document["resources"]}
    server = resources[("hcloud:index/server:Server", "chrono-prod-app")]
    assert server["serverType"] == "cx33" and server["location"] == "nbg1"
    # The SSH connection of every host step carries the private key: masked, never shown.
    command = resources[("command:remote:Command", "host-app-base")]
    assert command["connection"] == SECRET_MASK
    assert command["stdin"].startswith("<") and "sha256" in command["stdin"]  # a script, as a digest


def test_previous_outputs_run_the_guard_offline(before: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    plan_file, document = before
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(document["outputs"]), encoding="utf-8")  # as `pulumi stack output --json` prints it
    shrink = copy.deepcopy(PROD)
    shrink["servers"]["app"] = {**PROD["servers"]["app"], "serverType": "cx23", "keepDisk": True}
    for previous in (outputs, plan_file):
        result = plan("--config-file", str(write(tmp_path / "Pulumi.after.yaml", shrink)), "--previous", str(previous))
        assert result.returncode == 2, result.stdout
        assert "Resize guard: refusing to change the server type of app (cx33 -> cx23)" in result.stderr
        assert "its disk is 80 GB and cx23 has 40 GB" in result.stderr and "Traceback" not in result.stderr
    # Without --previous the same stack plans (nothing to compare with: a first deployment).
    assert plan("--config-file", str(tmp_path / "Pulumi.after.yaml")).returncode in (0, 1)


@pytest.mark.parametrize(("content", "reason"), [
    ("not json", "is not JSON"),
    ("[1, 2]", "holds a JSON list, not the object of stack outputs"),
])
def test_a_bad_previous_file_is_refused_with_the_flag_named(tmp_path: Path, content: str, reason: str) -> None:
    bad = tmp_path / "outputs.json"
    bad.write_text(content, encoding="utf-8")
    result = plan("--config-file", str(write(tmp_path / "Pulumi.x.yaml", PROD)), "--previous", str(bad))
    assert result.returncode == 2 and "--previous" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.stderr


def test_compare_marks_replacements_from_the_table(before: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    plan_file, _ = before
    changed = copy.deepcopy(PROD)
    changed["servers"]["app"] = {**PROD["servers"]["app"], "image": "debian-12"}
    result = plan("--config-file", str(write(tmp_path / "Pulumi.after.yaml", changed)), "--compare", str(plan_file))
    assert result.returncode in (0, 1), result.stderr
    assert "- `hcloud:index/server:Server` chrono-prod-app: `image`: **replace** (forced by image)" in result.stdout


def test_diff_rules() -> None:
    server = "hcloud:index/server:Server"
    base = [{"type": server, "name": "s", "inputs": {"serverType": "cx33", "userData": "a", "image": "x"}}]
    ignored = [{"type": server, "name": "s", "inputs": {"serverType": "cx33", "userData": "b", "image": "x"}}]
    [change] = resource_diff(base, ignored)
    assert change.action == "no-op (ignored inputs)" and change.replaces == ()
    resized = [{"type": server, "name": "s", "inputs": {"serverType": "cx43", "userData": "a", "image": "x"}}]
    assert resource_diff(base, resized)[0].action == "update"
    assert resource_diff([{"type": server, "name": "s"}], resized) == []  # an old plan without inputs


def test_masking_follows_pulumis_secret_paths() -> None:
    inputs = {"connection": {"host": "h", "privateKey": "KEY"}, "stdin": "x" * 300, "list": ["a", "SECRET"]}
    masked = masked_inputs(inputs, ["connection.privateKey", "list[1]"])
    assert masked["connection"] == {"host": "h", "privateKey": SECRET_MASK}
    assert masked["list"] == ["a", SECRET_MASK] and masked["stdin"].startswith("<300 characters, sha256 ")
    assert masked_inputs({"value": "s"}, ["(root)"]) == {}
