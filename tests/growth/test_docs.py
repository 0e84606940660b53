"""docs/growth.md: every figure, comment example and picture in it is generated from the real plans.

Blocks between `<!-- generated:NAME:start -->` and `<!-- generated:NAME:end -->` must equal what the
code produces today. After an intended change: UPDATE_GOLDEN=1 .venv/bin/pytest tests/growth/test_docs.py
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cli.compare import compare_markdown
from cli.diagram import mermaid
from cli.plan import load
from cost.resize import resize_summary
from spec.resize_checks import check_resize
from tests.fixed_date import GENERATED_AS_OF
from tests.growth.conftest import PlanResult
from tests.growth.mermaid_check import check_flowchart
from tests.growth.support import GOLDEN, ROOT

DOC = ROOT / "docs" / "growth.md"
PHASE1_FILE = ROOT / "examples" / "Pulumi.chrono-single.yaml"
PHASE2_FILE = ROOT / "examples" / "Pulumi.chrono-phase2.yaml"


def _plan(real_plan: Callable[[Path], PlanResult], path: Path) -> dict[str, Any]:
    code, document, stderr = real_plan(path)
    assert code == 0, stderr
    return document


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def phase2_cost(phase1: dict[str, Any], phase2: dict[str, Any]) -> str:
    p1, p2 = Decimal(str(phase1["cost"]["total_net_eur"])), Decimal(str(phase2["cost"]["total_net_eur"]))
    rows = []
    for label, path, document, count in (("phase 1", PHASE1_FILE, phase1, 1), ("phase 2", PHASE2_FILE, phase2, 3)):
        cost = document["cost"]
        rows.append(f"| {label}: `examples/{path.name}` | {count} | {len(document['resources'])} | "
                    f"{_money(cost['total_net_eur'])} | {_money(cost['budget_eur'])} ({cost['status']}) |")
    servers = ", ".join(f"{line['item'].removeprefix('Server ')} {_money(line['monthly_eur'])}"
                        for line in phase2["cost"]["lines"] if line["kind"] == "server")
    return "\n".join([
        f"Priced offline for {phase2['cost']['as_of']} from the catalogue of {phase2['cost']['catalogue']} "
        f"(EUR per month, net of VAT):",
        "",
        "| stack | servers | resources | EUR/month | budget |",
        "|---|--:|--:|--:|--:|",
        *rows,
        "",
        f"Phase 2 costs EUR {p2 - p1:.2f} more a month ({(p2 - p1) / p1 * 100:.0f} %). Its servers: {servers}.",
        "",
        compare_markdown(phase1, phase2, "prod").replace("### Cost change for stack `prod`",
                                                         "#### Phase 1 -> phase 2, as the pull request comment shows it"),
    ])


def resize_example() -> str:
    summary = resize_summary("cx33", "cx43", "nbg1", backups=True, ordered_on=dt.date(2026, 3, 1),
                             as_of=GENERATED_AS_OF, server="app")
    refusals = [check_resize("cx33", "cx23", "nbg1", False), check_resize("cx33", "cax21", "nbg1", False),
                check_resize("cx33", "cx42", "nbg1", False), check_resize("ccx13", "cpx31", "nbg1", False)]
    lines = ["```text", f"info: {summary.text()}", "```", "", "Refusals (one line each):", "", "```text"]
    lines += [problem for problems in refusals for problem in problems]
    lines += ["```"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def blocks(real_plan: Callable[[Path], PlanResult]) -> dict[str, str]:
    phase1, phase2 = (_plan(real_plan, path) for path in (PHASE1_FILE, PHASE2_FILE))
    return {
        "cost-comment": (GOLDEN / "cost-diff-prod.md").read_text(encoding="utf-8"),
        "phase1-diagram": "```mermaid\n" + mermaid(phase1, load(PHASE1_FILE)[1]) + "```\n",
        "resize-example": resize_example(),
        "phase2-cost": phase2_cost(phase1, phase2),
        "phase2-diagram": "```mermaid\n" + mermaid(phase2, load(PHASE2_FILE)[1]) + "```\n",
    }


def test_generated_blocks_are_current(blocks: dict[str, str]) -> None:
    text = DOC.read_text(encoding="utf-8")
    update = os.environ.get("UPDATE_GOLDEN") == "1"
    for name, content in blocks.items():
        pattern = re.compile(rf"(<!-- generated:{name}:start -->\n)(.*?)(<!-- generated:{name}:end -->)", re.S)
        match = pattern.search(text)
        assert match, f"docs/growth.md has no generated:{name} block"
        if update:
            text = pattern.sub(lambda m, c=content: m.group(1) + c + m.group(3), text)  # type: ignore[misc]
        else:
            assert match.group(2) == content, f"generated:{name} is stale: UPDATE_GOLDEN=1 .venv/bin/pytest {__file__}"
    if update:
        DOC.write_text(text, encoding="utf-8")


def test_doc_diagrams_are_valid(blocks: dict[str, str]) -> None:
    for name in ("phase1-diagram", "phase2-diagram"):
        assert check_flowchart(blocks[name].removeprefix("```mermaid\n").removesuffix("```\n")) == []


def test_doc_names_the_seed_triggers_and_keep_disk_semantics() -> None:
    text = DOC.read_text(encoding="utf-8")
    for trigger in ("80 %", "85 %", "500 ms", "100 jobs"):
        assert trigger in text, trigger
    for phrase in ("keepDisk", "snapshotBeforeResize", "new order", "cannot shrink"):
        assert phrase in text, phrase


def test_readme_picture_is_the_default_stacks_plan(real_plan: Callable[[Path], PlanResult]) -> None:
    prod_file = ROOT / "Pulumi.prod.yaml"
    picture = mermaid(_plan(real_plan, prod_file), load(prod_file)[1])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lead = "`scripts/plan --mermaid` draws it (this is `Pulumi.prod.yaml`):\n\n```mermaid\n"
    start = readme.index(lead) + len(lead)
    assert readme[start : readme.index("```\n", start)] == picture, (
        f"README picture is stale: paste `scripts/plan --mermaid --as-of {GENERATED_AS_OF}`")


def test_readme_preset_table_is_the_plans(real_plan: Callable[[Path], PlanResult]) -> None:
    """The README's preset table: each preset's monthly net total is what its plan prints for GENERATED_AS_OF."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(Pulumi\.[\w.-]+\.yaml)` \| [^|]+ \| [^|]+ \| ([\d.]+) \|$", readme, re.M)
    presets = sorted(path.name for path in (ROOT / "examples").glob("Pulumi.*.yaml"))
    assert sorted(name for name, _ in rows) == presets, "the README preset table must list every example"
    for name, figure in rows:
        total = _plan(real_plan, ROOT / "examples" / name)["cost"]["total_net_eur"]
        assert _money(total) == figure, f"README preset table: {name} costs {_money(total)}, the table says {figure}"
