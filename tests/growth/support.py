"""Shared helpers of the growth tests: the offline plan as a subprocess, stack files, mocks with a past."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

import cli.evaluate
from cli.evaluate import Evaluation
from cli.mocks import RecordingMocks, stable_number
from tests.fixed_date import GENERATED_AS_OF
from tests.stacks import write_stack

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
SERVER_TYPE = "hcloud:index/server:Server"


def plan_json(config_file: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    """`python -m cli.main plan --config-file PATH --json` as a user runs it: (exit code, document, stderr).
    Priced for GENERATED_AS_OF, never today, so documents compared with committed files stay current."""
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "plan", "--config-file", str(config_file), "--json",
         "--as-of", GENERATED_AS_OF.isoformat(), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    document = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, document, result.stderr




def mock_server_id(resource_name: str) -> int:
    """The id RecordingMocks gives the Server of that name (ids depend on type and name only)."""
    return 100000 + stable_number(SERVER_TYPE, resource_name, modulo=900000)


class PreviousDeploymentMocks(RecordingMocks):
    """RecordingMocks plus a past: the stack's own outputs of the last deployment, read through the
    StackReference the deployment guard creates, and Hetzner's answer to a server lookup by name.

    `previous_servers`: the last deployment's `servers` output (None: no deployment yet); `outputs`: the
    whole set of last outputs instead."""

    def __init__(self, previous_servers: dict[str, Any] | None = None, *, outputs: dict[str, Any] | None = None) -> None:
        if outputs is None:
            outputs = {} if previous_servers is None else {"servers": previous_servers, "dnsNames": []}
        super().__init__(previous_outputs=outputs)
        self.stack_references: list[str] = []
        self.server_lookups: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        if args.typ == "pulumi:pulumi:StackReference":
            self.stack_references.append(str(args.inputs["name"]))
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "hcloud:index/getServer:getServer":
            name = str(args.args.get("name"))
            self.server_lookups.append(name)
            return {"id": mock_server_id(name), "name": name, "status": "running"}, []
        return super().call(args)


def evaluate_with_past(tmp_path: Path, values: dict[str, Any], previous_servers: dict[str, Any] | None,
                       monkeypatch: pytest.MonkeyPatch) -> tuple[Evaluation, PreviousDeploymentMocks]:
    """The program under mocks whose last deployment had these servers (None: no deployment yet)."""
    mocks = PreviousDeploymentMocks(previous_servers)
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: mocks)
    evaluation = cli.evaluate.evaluate(write_stack(tmp_path, values))
    return evaluation, mocks
