"""Cost and resource diff between two offline plans (`plan --json` documents), as Markdown.

    compare_markdown(base_plan, head_plan, "prod")      # the table the PR comment shows
    run_compare(Path("base.json"), head_plan, "prod")   # what `plan --compare BASE_JSON` prints

The pull-request workflow (.github/workflows/preview.yml) runs the plan on the base and the head commit
and calls `python -m cli.compare`, which adds a hidden per-stack marker (so the workflow updates its
own comment instead of adding one per push) and the Mermaid picture of the head stack.

Cost lines are matched by what they price, not by their label: (kind, resource) when the line names a
resource, else (kind, label without its parenthesised details). So "Server app (cx33)" ->
"Server app (cx43)" is one changed line, not a removal plus an addition.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cli.diagram import mermaid
from cli.resource_diff import ResourceChange, resource_diff
from cli.stack_loading import load

MARKER = "<!-- hetzner-platform-cost:{stack} -->"
MAX_RESOURCES_LISTED = 20
COMMAND_TYPE = "command:remote:Command"
STATUS_TEXT = {"ok": "ok", "warn": "WARN", "critical": "CRITICAL", "over": "OVER BUDGET"}
ZERO = Decimal(0)


def marker(stack: str) -> str:
    return MARKER.format(stack=stack)


@dataclass(frozen=True)
class LineChange:
    change: str  # changed | added | removed
    item: str  # label in head (or base for removed lines); "old -> new" when the label changed
    base_eur: Decimal | None
    head_eur: Decimal | None

    @property
    def delta_eur(self) -> Decimal:
        return (self.head_eur or ZERO) - (self.base_eur or ZERO)


def _money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))


def _eur(value: Decimal | None) -> str:
    return "–" if value is None else f"{value.quantize(Decimal('0.01')):.2f}"


def _signed(value: Decimal) -> str:
    value = value.quantize(Decimal("0.01"))
    if value == 0:
        return "±0.00"
    return f"+{value:.2f}" if value > 0 else f"−{-value:.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _line_key(line: Mapping[str, Any]) -> tuple[str, str]:
    kind = str(line.get("kind") or "")
    resource = line.get("resource")
    if resource:
        return kind, str(resource)
    label = re.sub(r"\s*\([^)]*\)", "", str(line.get("item", ""))).strip()
    return kind, label


def _keyed(lines: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """Lines by key, in document order; a repeated key gets a counter so nothing is lost."""
    keyed: dict[tuple[str, str], Mapping[str, Any]] = {}
    for line in lines:
        kind, name = _line_key(line)
        key, counter = (kind, name), 2
        while key in keyed:
            key, counter = (kind, f"{name}#{counter}"), counter + 1
        keyed[key] = line
    return keyed


def cost_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[LineChange]:
    """Changed and added lines in head order, then removed lines in base order. Unchanged lines are left out."""
    old = _keyed(_cost(base).get("lines") or [])
    new = _keyed(_cost(head).get("lines") or [])
    changes: list[LineChange] = []
    for key, line in new.items():
        head_eur = _money(line.get("monthly_eur"))
        if key not in old:
            changes.append(LineChange("added", str(line.get("item", "")), None, head_eur))
            continue
        before = old[key]
        base_eur = _money(before.get("monthly_eur"))
        old_item, new_item = str(before.get("item", "")), str(line.get("item", ""))
        if base_eur != head_eur or old_item != new_item:
            item = new_item if old_item == new_item else f"{old_item} → {new_item}"
            changes.append(LineChange("changed", item, base_eur, head_eur))
    for key, line in old.items():
        if key not in new:
            changes.append(LineChange("removed", str(line.get("item", "")), _money(line.get("monthly_eur")), None))
    return changes


def resource_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(added, removed) resources as sorted (type, name) pairs."""

    def pairs(document: Mapping[str, Any]) -> set[tuple[str, str]]:
        return {(str(r.get("type", "")), str(r.get("name", ""))) for r in document.get("resources") or []}

    old, new = pairs(base), pairs(head)
    return sorted(new - old), sorted(old - new)


def _cost(document: Mapping[str, Any]) -> Mapping[str, Any]:
    cost = document.get("cost")
    return cost if isinstance(cost, Mapping) else {}


def _total(document: Mapping[str, Any]) -> Decimal | None:
    cost = _cost(document)
    if "total_net_eur" in cost:
        return _money(cost.get("total_net_eur"))
    lines = cost.get("lines")
    if not lines:
        return None
    return sum((_money(line.get("monthly_eur")) or ZERO for line in lines), ZERO)


def _resource_lines(pairs: list[tuple[str, str]]) -> list[str]:
    """Cloud resources one per line; remote commands (host steps) folded per server: host-db-{base, ssh}."""
    lines: list[tuple[tuple[bool, str, str], str]] = []
    steps: dict[str, list[str]] = {}
    for typ, name in pairs:
        if typ == COMMAND_TYPE and "-" in name:
            prefix, step = name.rsplit("-", 1)
            steps.setdefault(prefix, []).append(step)
        else:
            lines.append(((False, typ, name), f"- `{typ}` {name}"))
    for prefix, names in steps.items():
        text = f"{prefix}-{names[0]}" if len(names) == 1 else f"{prefix}-{{{', '.join(names)}}} ({len(names)})"
        lines.append(((True, COMMAND_TYPE, prefix), f"- `{COMMAND_TYPE}` {text}"))
    return [text for _, text in sorted(lines)]


def _resource_list(title: str, pairs: list[tuple[str, str]]) -> list[str]:
    out = [f"**{title} ({len(pairs)})**", ""]
    lines = _resource_lines(pairs)
    out += lines[:MAX_RESOURCES_LISTED]
    if len(lines) > MAX_RESOURCES_LISTED:
        out.append(f"- … and {len(lines) - MAX_RESOURCES_LISTED} more")
    return [*out, ""]


def compare_markdown(base: Mapping[str, Any], head: Mapping[str, Any], stack: str) -> str:
    """Markdown: cost lines added / removed / changed with their monthly delta, the totals, the new
    status against the budget, and the resources added and removed. `base` may be {} (no plan there)."""
    out = [f"### Cost change for stack `{stack}`", ""]
    if not base:
        out += ["_No plan on the base commit (the stack is new there, or its config did not validate): "
                "every line counts as added._", ""]
    changes = cost_changes(base, head)
    base_total, head_total = _total(base), _total(head)
    delta_total = (head_total or ZERO) - (base_total or ZERO)
    if changes:
        out += ["| change | item | base EUR/month | head EUR/month | delta |", "|---|---|--:|--:|--:|"]
        for change in changes:
            out.append(f"| {change.change} | {_cell(change.item)} | {_eur(change.base_eur)} | {_eur(change.head_eur)} "
                       f"| {_signed(change.delta_eur)} |")
        out.append(f"| | **total (net)** | **{_eur(base_total)}** | **{_eur(head_total)}** | **{_signed(delta_total)}** |")
        unchanged = len(_cost(head).get("lines") or []) - sum(1 for c in changes if c.change != "removed")
        if unchanged:
            out += ["", f"{unchanged} other cost line{'s' if unchanged != 1 else ''} unchanged."]
    else:
        out.append(f"No cost line changed: EUR {_eur(head_total)}/month net, as before.")
    out.append("")

    cost = _cost(head)
    status = str(cost.get("status", "unknown"))
    budget = _money(cost.get("budget_eur"))
    summary = f"**New total: EUR {_eur(head_total)}/month net** ({_signed(delta_total)})"
    if budget is not None and head_total is not None:
        headroom = budget - head_total
        room = f"headroom EUR {_eur(headroom)}" if headroom >= 0 else f"EUR {_eur(-headroom)} over"
        summary += f", budget EUR {_eur(budget)}: **{STATUS_TEXT.get(status, status)}** ({room})"
    base_status = _cost(base).get("status")
    if base and base_status and base_status != status:
        summary += f"; was {STATUS_TEXT.get(str(base_status), str(base_status))}"
    out += [summary + ".", ""]
    if head.get("exit_code") == 1:
        enforced = " (the budget is enforced: `pulumi up` will refuse)" if cost.get("enforce") and status == "over" else ""
        out += [f"⚠️ The plan exits 1: over the budget or over a server's capacity{enforced}.", ""]

    added, removed = resource_changes(base, head)
    changed = resource_diff(base.get("resources") or [], head.get("resources") or [])
    if added or removed:
        if added:
            out += _resource_list("Resources added", added)
        if removed:
            out += _resource_list("Resources removed", removed)
    else:
        out += ["No resource added or removed.", ""]
    if changed:
        out += _changed_list(changed)
    return "\n".join(out).rstrip() + "\n"


def _changed_list(changes: list[ResourceChange]) -> list[str]:
    """Changed resources with the inputs that changed; replacements first and in bold."""
    replaced = sum(1 for change in changes if change.replaces)
    out = [f"**Resources changed ({len(changes)}, {replaced} replaced)**", ""]
    ordered = sorted(changes, key=lambda change: (not change.replaces, change.type, change.name))
    for change in ordered[:MAX_RESOURCES_LISTED]:
        inputs = ", ".join(f"`{name}`" for name in change.changed)
        if change.replaces:
            forcing = ", ".join(change.replaces)
            action = f"**replace** (forced by {forcing}" + ("; the step runs again)" if change.type.startswith("command:") else ")")
        else:
            action = change.action
        out.append(f"- `{change.type}` {change.name}: {inputs}: {action}")
    if len(changes) > MAX_RESOURCES_LISTED:
        out.append(f"- … and {len(changes) - MAX_RESOURCES_LISTED} more")
    return [*out, ""]


def load_plan(path: Path) -> dict[str, Any]:
    """A plan document; {} when the file is empty or not a JSON object (no plan on that side)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        document = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}


def run_compare(base_path: Path, head: Mapping[str, Any], stack: str) -> str:
    """For `plan --compare BASE_JSON`: the Markdown diff of the current plan against a saved one."""
    return compare_markdown(load_plan(Path(base_path)), head, stack)


def pr_comment(
    base: Mapping[str, Any],
    head: Mapping[str, Any],
    stack: str,
    *,
    diagram: str | None = None,
    head_error: str | None = None,
) -> str:
    """The whole PR comment body for one stack: marker, cost diff (or the config errors), picture."""
    out = [marker(stack)]
    if head_error is not None:
        out += [f"### Cost change for stack `{stack}`", "",
                "❌ The stack config does not validate on this pull request:", "", "```", head_error.strip(), "```", ""]
    else:
        out.append(compare_markdown(base, head, stack))
    if diagram:
        out += ["<details><summary>Architecture of the stack after this change</summary>", "", "```mermaid",
                diagram.rstrip(), "```", "", "</details>", ""]
    out.append("<sub>Offline plan (`hetzner-platform plan --json`) of the base and head commits, priced from the "
               "dated catalogue; net of VAT.</sub>")
    return "\n".join(out).rstrip() + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cli.compare", description="PR comment: cost diff of two plans.")
    parser.add_argument("--base", required=True, type=Path, help="plan --json of the base commit ({} or missing: none)")
    parser.add_argument("--head", required=True, type=Path, help="plan --json of the head commit")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--config-file", type=Path, help="the head stack file: adds the Mermaid picture")
    parser.add_argument("--head-error", type=Path, help="stderr of a head plan that failed (exit 2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    head = load_plan(args.head)
    head_error = None
    if args.head_error is not None and not head:
        head_error = args.head_error.read_text(encoding="utf-8") if args.head_error.exists() else "(no output)"
    diagram = None
    if args.config_file is not None and head:
        _, config = load(args.config_file)
        diagram = mermaid(head, config)
    sys.stdout.write(pr_comment(load_plan(args.base), head, args.stack, diagram=diagram, head_error=head_error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
