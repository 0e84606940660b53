"""Helpers for the trust-boundary tests: mutate a real stack file and run the offline plan in-process."""

from __future__ import annotations

import copy
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cli.plan import run_plan

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "hetzner-platform"
# Printed by cli.plan.report_refusal when an exception got past every check: a missing check.
UNCAUGHT_MARKER = "the checks should have caught this earlier"
_PART_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def stack_document(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def split_path(path: str) -> list[str | int]:
    """'app.services.backend.limits.cpus' or 'loadBalancer.services[0].listenPort' -> its parts.
    A key holding dots or slashes is written in braces: 'app.services.x.hostMounts.{/etc/passwd}'."""
    parts: list[str | int] = []
    for brace in re.split(r"(\{[^}]*\})", path):
        if brace.startswith("{"):
            parts.append(brace[1:-1])
            continue
        for name, index in _PART_RE.findall(brace):
            parts.append(int(index) if index else name)
    return parts


def set_path(config: dict[str, Any], path: str, value: Any) -> None:
    """Set one value of the hetzner-platform namespace (`!provider:key` sets another namespace's key)."""
    if path.startswith("!"):
        config[path[1:]] = value
        return
    parts = split_path(path)
    node: Any = config
    first = f"{NAMESPACE}:{parts[0]}"
    if len(parts) == 1:
        config[first] = value
        return
    if not isinstance(config.get(first), dict | list):
        config[first] = [] if isinstance(parts[1], int) else {}
    node = config[first]
    for part, following in itertools.pairwise(parts[1:]):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(part, int):
            while len(node) <= part:
                node.append(empty)
            if not isinstance(node[part], dict | list):
                node[part] = empty
        elif not isinstance(node.get(part), dict | list):
            node[part] = empty
        node = node[part]
    if isinstance(parts[-1], int):
        while len(node) <= parts[-1]:
            node.append(None)
    node[parts[-1]] = value


@dataclass
class PlanRun:
    code: int
    stdout: str
    stderr: str
    out_dir: Path

    def issue_paths(self) -> list[str]:
        return re.findall(r"^  - (\S+?): ", self.stderr, flags=re.MULTILINE)


def run_stack(tmp_path: Path, document: dict[str, Any] | None = None, *, raw: str | None = None,
              name: str = "Pulumi.case.yaml") -> PlanRun:
    path = tmp_path / name
    path.write_text(raw if raw is not None else yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    out_dir = tmp_path / "out"
    code = run_plan(None, str(path), False, str(out_dir), ROOT, out=out, err=err)
    return PlanRun(code, out.getvalue(), err.getvalue(), out_dir)


def mutated(base: str, changes: list[tuple[str, Any]]) -> dict[str, Any]:
    document = copy.deepcopy(stack_document(base))
    for path, value in changes:
        set_path(document["config"], path, value)
    return document
