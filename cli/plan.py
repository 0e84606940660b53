"""`hetzner-platform plan`: what a stack will create, the host files, its cost and capacity. Offline."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pulumi

from cli.evaluate import Evaluation, evaluate
from cli.previous import load_previous
from cli.render_out import write_rendered_files
from cli.resource_diff import plan_resources
from cli.stack_loading import load, stack_path
from config.deploy_strategy import strategies_by_server
from config.errors import ConfigError
from config.schema import StackConfig
from config.stack_file import StackFile
from cost.report import render_plan
from spec.notes import plan_notes
from spec.resources import PlatformSpec
from spec.service_homes import placement
from spec.warnings import config_warnings

EXIT_OK, EXIT_OVER, EXIT_INVALID = 0, 1, 2


@dataclass
class Plan:
    stack: StackFile
    config: StackConfig
    spec: PlatformSpec
    evaluation: Evaluation
    cost: Any  # cost.api.PlanCost

    @property
    def warnings(self) -> list[str]:
        return [*config_warnings(self.config), *self.cost.warnings]

    def exit_code(self) -> int:
        return int(self.cost.exit_code())

    def host_steps(self) -> dict[str, list[str]]:
        return {name: host.step_names for name, host in self.evaluation.platform.hosts.items()}

    def deploy_strategies(self) -> dict[str, dict[str, str]]:
        """server -> {app service: recreate | blue-green}: how the app step moves each to a new release."""
        return strategies_by_server(placement(self.config), self.config.app.services)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack.stack_name,
            "project": self.config.project,
            "environment": self.config.environment,
            "location": self.config.location,
            # Each resource with its inputs (secrets masked, scripts as digests): `plan --compare` diffs them.
            "resources": plan_resources(self.evaluation.resources),
            "host_steps": self.host_steps(),
            "deploy_strategies": self.deploy_strategies(),
            "outputs": self.evaluation.outputs,
            "cost": self.cost.cost_json(),
            "capacity": self.cost.capacity_json(),
            "secrets": self.evaluation.secret_notes,
            "warnings": self.warnings,
            "notes": plan_notes(self.config),
            "extends": self.stack.extends,
            "config": self.stack.values,
            "exit_code": self.exit_code(),
        }


def sorted_resources(evaluation: Evaluation) -> list[Any]:
    return sorted(evaluation.resources, key=lambda r: (r.type, r.name))


def build_plan(stack: StackFile, config: StackConfig, previous: dict[str, Any] | None = None, *,
               live_prices: bool = False) -> Plan:
    """`previous`: the last deployment's outputs; the guard then refuses what `pulumi up` would refuse
    (pulumi.RunError). `live_prices`: read prices from the Hetzner API (plan --live-prices)."""
    evaluation = evaluate(stack, enforce_budget=False, validated=config, previous_outputs=previous, live_prices=live_prices)
    # The program priced its own resolved specs; the plan reports that very figure.
    return Plan(stack, config, evaluation.platform.spec, evaluation, evaluation.platform.plan_cost)


def render_text(plan: Plan, out: TextIO) -> None:
    resources = sorted_resources(plan.evaluation)
    print(f"hetzner-platform plan: stack '{plan.stack.stack_name}' ({plan.stack.path})", file=out)
    print(f"project {plan.config.project}, environment {plan.config.environment}, location {plan.config.location}", file=out)
    if plan.stack.extends:
        print(f"extends {plan.stack.extends}: the values below are the merged result (--show-config prints them)", file=out)
    print("", file=out)
    width = max(len(r.type) for r in resources)
    print(f"Resources to create ({len(resources)}):", file=out)
    for resource in resources:
        print(f"  {resource.type:<{width}}  {resource.name}", file=out)
    print("\nHost configuration steps (remote commands, in order):", file=out)
    strategies = plan.deploy_strategies()
    for server, steps in plan.host_steps().items():
        print(f"  {server}: {' -> '.join(steps) if steps else '(none)'}", file=out)
        if server in strategies:
            listed = ", ".join(f"{name} {strategy}" for name, strategy in strategies[server].items())
            print(f"    app deploy strategies: {listed}", file=out)
    if plan.evaluation.secret_notes:
        print("\nSecrets:", file=out)
        for key, note in sorted(plan.evaluation.secret_notes.items()):
            print(f"  {key}: {note}", file=out)
    print("", file=out)
    print(render_plan(plan.cost), file=out)
    for warning in plan.warnings:
        print(f"warning: {warning}", file=out)
    for note in plan_notes(plan.config):
        print(f"note: {note}", file=out)


def report_refusal(error: Exception, source: str, err: TextIO) -> int:
    """The last guard of the trust boundary: whatever validating or rendering a stack raised ends as exit 2
    with the field it names (ConfigError, or a ValueError whose message starts with the field), never as a
    traceback that looks like exit 1 ("over budget")."""
    if isinstance(error, ConfigError):
        print(error.render(), file=err)
    else:
        reason = str(error).strip() or type(error).__name__
        print(f"1 problem(s) in {source}:\n  - {reason}", file=err)
        print(f"(the checks should have caught this earlier: please report it; {type(error).__name__})", file=err)
    return EXIT_INVALID


def run_plan(stack: str | None, config_file: str | None, as_json: bool, out_dir: str | None,
             project_dir: Path, out: TextIO | None = None, err: TextIO | None = None, *,
             compare: str | None = None, mermaid: bool = False, as_of: dt.date | None = None,
             previous: str | None = None, live_prices: bool = False, show_config: bool = False) -> int:
    # Looked up per call: a default of sys.stdout would keep whatever stream was current at import.
    out, err = out or sys.stdout, err or sys.stderr
    path = stack_path(stack, config_file, project_dir)
    try:
        if show_config:
            return _show_config(path, as_of, out)
        return _run_plan(path, as_json, out_dir, out, err, compare=compare, mermaid=mermaid, as_of=as_of, previous=previous,
                         live_prices=live_prices)
    except Exception as error:  # see report_refusal
        return report_refusal(error, str(path), err)


def _show_config(path: Path, as_of: dt.date | None, out: TextIO) -> int:
    """The stack's values after merging its base (extends), as a stack file would hold them."""
    import yaml

    stack_file, _ = load(path, as_of)
    document = {"config": {f"hetzner-platform:{key}": value for key, value in stack_file.values.items()}}
    out.write(yaml.safe_dump(document, sort_keys=False, width=120))
    return EXIT_OK


def _run_plan(path: Path, as_json: bool, out_dir: str | None, out: TextIO, err: TextIO, *,
              compare: str | None, mermaid: bool, as_of: dt.date | None, previous: str | None, live_prices: bool) -> int:
    stack_file, config = load(path, as_of)
    previous_outputs = load_previous(Path(previous)) if previous else None
    try:
        plan = build_plan(stack_file, config, previous_outputs, live_prices=live_prices)
    except pulumi.RunError as refusal:
        # The deployment guard refused the change against the last deployment: what `pulumi up` would say.
        print(f"refused against the last deployment ({previous}):\n{refusal}", file=err)
        return EXIT_INVALID
    if out_dir:
        written = write_rendered_files(plan.config, plan.spec, plan.evaluation, Path(out_dir))
        print(f"wrote {len(written)} rendered host files to {out_dir}", file=err)
    if not (compare or mermaid or as_json):
        render_text(plan, out)
        return plan.exit_code()
    document = json.loads(json.dumps(plan.to_json(), default=str))
    if compare:
        from cli.compare import run_compare

        out.write(run_compare(Path(compare), document, plan.stack.stack_name))
    elif mermaid:
        from cli.diagram import mermaid as render_mermaid

        out.write(render_mermaid(document, plan.config, plan.spec))
    else:
        json.dump(document, out, indent=2, sort_keys=False)
        out.write("\n")
    return plan.exit_code()
