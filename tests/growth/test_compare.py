"""Cost diff of two plans: a golden from the real plan of two stack files, and the rules on small documents.

The golden inputs are tests/growth/golden/Pulumi.base.yaml (tests/stacks.PROD priced for a fixed
day) and Pulumi.head.yaml (the same with cx43 and a 200 GB volume). To refresh the golden after an
intended change: UPDATE_GOLDEN=1 .venv/bin/pytest tests/growth/test_compare.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli.compare import compare_markdown, cost_changes, main, marker, pr_comment, resource_changes, run_compare
from tests.growth.conftest import PlanResult
from tests.growth.support import GOLDEN


@pytest.fixture(scope="module")
def real_plans(real_plan: Callable[[Path], PlanResult]) -> tuple[dict[str, Any], dict[str, Any]]:
    base_rc, base, base_err = real_plan(GOLDEN / "Pulumi.base.yaml")
    head_rc, head, head_err = real_plan(GOLDEN / "Pulumi.head.yaml")
    assert (base_rc, head_rc) == (0, 0), base_err + head_err
    return base, head


def test_golden_cost_diff_from_the_real_plan(real_plans: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, head = real_plans
    markdown = compare_markdown(base, head, "prod")
    golden = GOLDEN / "cost-diff-prod.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(markdown, encoding="utf-8")
    assert markdown == golden.read_text(encoding="utf-8")


def test_golden_numbers_add_up(real_plans: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, head = real_plans
    changes = cost_changes(base, head)
    delta = sum(c.delta_eur for c in changes)
    assert float(delta) == pytest.approx(head["cost"]["total_net_eur"] - base["cost"]["total_net_eur"])
    assert [c.change for c in changes] == ["changed", "changed", "changed"]


def test_run_compare_reads_the_saved_base(tmp_path: Path, real_plans: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, head = real_plans
    saved = tmp_path / "base.json"
    saved.write_text(json.dumps(base), encoding="utf-8")
    assert run_compare(saved, head, "prod") == compare_markdown(base, head, "prod")
    # A missing or broken base file is "no plan there", never a crash.
    assert "No plan on the base commit" in run_compare(tmp_path / "missing.json", head, "prod")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert "No plan on the base commit" in run_compare(tmp_path / "broken.json", head, "prod")


# --- rules, on hand-written documents -------------------------------------------------------------
def line(item: str, kind: str, monthly: float, resource: str | None = None) -> dict[str, Any]:
    return {"item": item, "kind": kind, "quantity": 1, "unit_eur": monthly, "monthly_eur": monthly, "source": "test",
            "resource": resource}


def plan(lines: list[dict[str, Any]], resources: list[tuple[str, str]], *, budget: float = 50, status: str = "ok",
         exit_code: int = 0, enforce: bool = False) -> dict[str, Any]:
    total = round(sum(entry["monthly_eur"] for entry in lines), 2)
    return {
        "stack": "test",
        "resources": [{"type": typ, "name": name} for typ, name in resources],
        "cost": {"lines": lines, "total_net_eur": total, "budget_eur": budget, "status": status, "enforce": enforce},
        "exit_code": exit_code,
    }


BASE = plan(
    [line("Server app (cx33)", "server", 8.49, "p-app"), line("Floating IPv4", "floating_ip", 3.0, "p-fip"),
     line("Snapshots (80 GB expected)", "snapshot", 1.14)],
    [("hcloud:index/server:Server", "p-app"), ("hcloud:index/floatingIp:FloatingIp", "p-fip")],
)
HEAD = plan(
    [line("Server web (cx43)", "server", 15.99, "p-web"), line("Server app (cx33)", "server", 8.49, "p-app"),
     line("Snapshots (120 GB expected)", "snapshot", 1.72), line("Load balancer lb11", "load_balancer", 7.49, "p-lb")],
    [("hcloud:index/server:Server", "p-app"), ("hcloud:index/server:Server", "p-web"),
     ("hcloud:index/loadBalancer:LoadBalancer", "p-lb")],
    status="warn", budget=35,
)


def test_lines_match_by_what_they_price_and_keep_a_fixed_order() -> None:
    changes = [(c.change, c.item, c.delta_eur) for c in cost_changes(BASE, HEAD)]
    assert [(change, item) for change, item, _ in changes] == [
        ("added", "Server web (cx43)"),
        ("changed", "Snapshots (80 GB expected) → Snapshots (120 GB expected)"),  # same kind, details differ
        ("added", "Load balancer lb11"),
        ("removed", "Floating IPv4"),
    ]
    assert [str(delta) for _, _, delta in changes] == ["15.99", "0.58", "7.49", "-3.0"]


def test_markdown_table_totals_status_and_resources() -> None:
    markdown = compare_markdown(BASE, HEAD, "test")
    assert "| added | Server web (cx43) | – | 15.99 | +15.99 |" in markdown
    assert "| removed | Floating IPv4 | 3.00 | – | −3.00 |" in markdown
    assert "| | **total (net)** | **12.63** | **33.69** | **+21.06** |" in markdown
    assert "1 other cost line unchanged." in markdown
    assert "**New total: EUR 33.69/month net** (+21.06), budget EUR 35.00: **WARN** (headroom EUR 1.31); was ok." in markdown
    added = markdown.index("**Resources added (2)**")
    removed = markdown.index("**Resources removed (1)**")
    assert added < markdown.index("- `hcloud:index/loadBalancer:LoadBalancer` p-lb") < markdown.index(
        "- `hcloud:index/server:Server` p-web") < removed < markdown.index("- `hcloud:index/floatingIp:FloatingIp` p-fip")
    # Same input, same bytes.
    assert markdown == compare_markdown(json.loads(json.dumps(BASE)), json.loads(json.dumps(HEAD)), "test")


def test_no_change_and_over_budget_messages() -> None:
    assert "No cost line changed: EUR 12.63/month net, as before." in compare_markdown(BASE, BASE, "test")
    assert "No resource added or removed." in compare_markdown(BASE, BASE, "test")
    over = plan([line("Server app (ccx33)", "server", 138.49, "p-app")], [("hcloud:index/server:Server", "p-app")],
                status="over", exit_code=1, enforce=True)
    markdown = compare_markdown(BASE, over, "test")
    assert "**OVER BUDGET** (EUR 88.49 over); was ok." in markdown
    assert "The plan exits 1" in markdown and "`pulumi up` will refuse" in markdown


def test_empty_base_counts_everything_as_added() -> None:
    markdown = compare_markdown({}, HEAD, "new")
    assert markdown.startswith("### Cost change for stack `new`\n\n_No plan on the base commit")
    assert markdown.count("| added |") == 4
    added, removed = resource_changes({}, HEAD)
    assert len(added) == 3 and removed == []


def test_long_resource_lists_are_cut() -> None:
    many = plan([], [("hcloud:index/primaryIp:PrimaryIp", f"ip-{n:02d}") for n in range(25)])
    markdown = compare_markdown(plan([], []), many, "test")
    assert "**Resources added (25)**" in markdown and "- … and 5 more" in markdown
    assert "ip-19" in markdown and "ip-20" not in markdown


def test_host_steps_are_folded_per_server_after_cloud_resources() -> None:
    resources = [("command:remote:Command", f"host-{server}-{step}") for server in ("web", "db") for step in ("wait", "base")]
    resources += [("command:remote:Command", "host-db-app"), ("hcloud:index/server:Server", "p-db")]
    markdown = compare_markdown(plan([], []), plan([], resources), "test")
    listed = markdown[markdown.index("**Resources added (6)**"):].splitlines()[2:5]
    assert listed == [
        "- `hcloud:index/server:Server` p-db",
        "- `command:remote:Command` host-db-{app, base, wait} (3)",
        "- `command:remote:Command` host-web-{base, wait} (2)",
    ]


def test_pr_comment_has_the_marker_the_picture_and_config_errors(tmp_path: Path) -> None:
    body = pr_comment(BASE, HEAD, "prod", diagram="flowchart LR\n  a --> b\n")
    assert body.startswith(marker("prod") + "\n### Cost change for stack `prod`")
    assert marker("prod") == "<!-- hetzner-platform-cost:prod -->"
    assert "```mermaid\nflowchart LR\n  a --> b\n```" in body
    failed = pr_comment(BASE, {}, "prod", head_error="servers.app.serverType: 'cx32' was retired")
    assert "does not validate on this pull request" in failed and "'cx32' was retired" in failed
    # The command the workflow runs, with a failed head plan.
    (tmp_path / "base.json").write_text(json.dumps(BASE), encoding="utf-8")
    (tmp_path / "head.json").write_text("", encoding="utf-8")
    (tmp_path / "head.err").write_text("invalid config\n  servers.app.serverType: bad", encoding="utf-8")
    assert main(["--base", str(tmp_path / "base.json"), "--head", str(tmp_path / "head.json"), "--stack", "prod",
                 "--head-error", str(tmp_path / "head.err")]) == 0
