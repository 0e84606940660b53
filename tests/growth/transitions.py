"""Routine edits of a running stack, evaluated before and after under mocks (tests/growth/test_transitions.py).

`evaluate_transition` plans a preset as deployed (no past), then the edited config with that plan's outputs
as the last deployment (what the self-StackReference answers), exactly as `pulumi preview` would see it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

import cli.evaluate
from cli.evaluate import Evaluation
from cli.resource_diff import ResourceChange, plan_resources, resource_diff
from config.errors import ConfigError
from config.loader import validate_config
from tests.growth.support import ROOT, PreviousDeploymentMocks
from tests.stacks import preset_values, write_stack

PRESETS = sorted([*(ROOT / "examples").glob("Pulumi.*.yaml"), ROOT / "Pulumi.prod.yaml", ROOT / "Pulumi.staging.yaml"])
COMMAND = "command:remote:Command"
# Bigger / smaller type of the same architecture for each preset type, and their disks (catalogue).
UPSIZE = {"cx23": "cx33", "cx33": "cx43", "cx43": "cx53", "cx53": "ccx43", "ccx53": "ccx63"}
DOWNSIZE = {"cx33": "cx23", "cx43": "cx33", "cx53": "cx43", "ccx53": "ccx43", "cx23": None}

Edit = Callable[[dict[str, Any]], dict[str, Any] | None]


def first_server(values: dict[str, Any]) -> str:
    return sorted(values["servers"])[0]


@dataclass
class Transition:
    before: Evaluation
    after: Evaluation | None
    refusal: str | None

    def changes(self) -> list[ResourceChange]:
        assert self.after is not None
        return resource_diff(plan_resources(self.before.resources), plan_resources(self.after.resources))

    def names(self, evaluation: Evaluation, typ: str) -> dict[str, Any]:
        return {r.name: r for r in evaluation.mocks.by_type(typ)}

    def rerun_steps(self) -> set[str]:
        """Host steps (host-<server>-<step>) that exist before and after and run again (triggers changed)."""
        assert self.after is not None
        old, new = self.names(self.before, COMMAND), self.names(self.after, COMMAND)
        return {name for name in old.keys() & new.keys()
                if name.startswith("host-") and old[name].inputs.get("triggers") != new[name].inputs.get("triggers")}


def _evaluate(directory: Path, values: dict[str, Any], previous: dict[str, Any] | None) -> Evaluation:
    mocks = PreviousDeploymentMocks(outputs=previous or {})
    original = cli.evaluate.RecordingMocks
    cli.evaluate.RecordingMocks = lambda: mocks  # type: ignore[assignment,misc]
    try:
        return cli.evaluate.evaluate(write_stack(directory, values))
    finally:
        cli.evaluate.RecordingMocks = original  # type: ignore[misc]


class NotApplicable(Exception):
    """The edit does not apply to this preset as it stands (the reason says why)."""


def edited_config(preset: Path, edit: Edit, base: Edit | None = None) -> dict[str, Any]:
    """The preset's values (after `base`, the state the stack is in) after the edit. NotApplicable when the
    edit does not apply (removing the only server), or a config is invalid (config validation names what)."""
    values = before_config(preset, base)
    edited = edit(copy.deepcopy(values))
    if edited is None:
        raise NotApplicable("the preset has nothing this edit changes")
    try:
        validate_config(edited)
    except ConfigError as error:
        raise NotApplicable(f"the edited config needs more: {error.issues[0]}") from None
    return edited


def before_config(preset: Path, base: Edit | None) -> dict[str, Any]:
    values = preset_values(preset)
    if base is not None:
        based = base(values)
        if based is None:
            raise NotApplicable("the preset cannot be brought into the starting state")
        values = based
        try:
            validate_config(values)
        except ConfigError as error:
            raise NotApplicable(f"the starting state needs more: {error.issues[0]}") from None
    return values


_BEFORE: dict[tuple[Path, Any], Evaluation] = {}


def evaluate_transition(tmp_path: Path, preset: Path, edit: Edit, base: Edit | None = None) -> Transition:
    edited = edited_config(preset, edit, base)
    key = (preset, base)
    if key not in _BEFORE:
        _BEFORE[key] = _evaluate(tmp_path / "before", before_config(preset, base), None)
    before = _BEFORE[key]
    try:
        after = _evaluate(tmp_path / "after", edited, before.outputs)
    except pulumi.RunError as refusal:
        return Transition(before, None, str(refusal))
    return Transition(before, after, None)
