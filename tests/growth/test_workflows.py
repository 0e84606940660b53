"""The GitHub Actions workflows, checked offline: schema, action inputs, documented secrets, the comment
script (run under node against a fake GitHub API) and the cost-diff script (run on a throwaway git repo)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from cli.compare import marker
from tests.growth.support import GOLDEN, ROOT
from tests.prerequisites import tool_path

WORKFLOWS = ROOT / ".github" / "workflows"
COST_DIFF = ROOT / ".github" / "scripts" / "cost-diff.sh"
DOC = ROOT / "docs" / "growth.md"

# pulumi/actions v7 action.yml inputs (research note, section 7). Anything else is a typo the action ignores.
PULUMI_ACTION_INPUTS = frozenset({
    "command", "stack-name", "work-dir", "cloud-url", "comment-on-pr", "comment-on-pr-number", "edit-pr-comment",
    "comment-on-summary", "github-token", "always-include-summary", "diff", "refresh", "expect-no-changes",
    "config-map", "secrets-provider", "upsert", "remove", "target", "target-dependents", "exclude",
    "exclude-dependents", "replace", "parallel", "message", "plan", "policyPacks", "policyPackConfigs",
    "pulumi-version", "pulumi-version-file", "suppress-outputs", "suppress-progress", "continue-on-error", "color",
    "log-verbosity", "log-flow", "debug", "exclude-protected",
})
PULUMI_SECRETS = {"PULUMI_ACCESS_TOKEN", "HCLOUD_TOKEN", "CLOUDFLARE_API_TOKEN"}


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_name, step) for job_name, job in workflow["jobs"].items() for step in job.get("steps", [])]


def pulumi_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for _, step in steps(workflow) if str(step.get("uses", "")).startswith("pulumi/actions@")]


def all_workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def test_the_three_workflows_exist_and_parse() -> None:
    assert {path.name for path in all_workflow_files()} >= {"test.yml", "preview.yml", "up.yml"}
    for path in all_workflow_files():
        document = load(path.name)
        assert document["name"] and document["on"] and document["jobs"], path.name


def test_workflows_validate_against_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *map(str, all_workflow_files())],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pulumi_action_gets_only_documented_inputs() -> None:
    used = 0
    for path in all_workflow_files():
        for step in pulumi_steps(load(path.name)):
            assert step["uses"] == "pulumi/actions@v7"
            unknown = set(step.get("with", {})) - PULUMI_ACTION_INPUTS
            assert not unknown, f"{path.name}: unknown pulumi/actions inputs {sorted(unknown)}"
            assert set(step.get("env", {})) >= PULUMI_SECRETS
            used += 1
    assert used == 3  # preview, up staging, up prod


def test_every_secret_and_variable_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    referenced: set[str] = set()
    for path in all_workflow_files():
        referenced |= {f"{kind}.{name}" for kind, name in re.findall(r"\b(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)",
                                                                   path.read_text(encoding="utf-8"))}
    assert referenced >= {"secrets.PULUMI_ACCESS_TOKEN", "secrets.HCLOUD_TOKEN", "secrets.CLOUDFLARE_API_TOKEN", "vars.PULUMI_ORG"}
    missing = sorted(ref for ref in referenced if f"`{ref.split('.', 1)[1]}`" not in doc)
    assert not missing, f"not documented in docs/growth.md: {missing}"


def test_test_workflow_runs_the_readme_command_as_root_with_ci() -> None:
    workflow = load("test.yml")
    assert set(workflow["on"]) >= {"push", "pull_request"}
    job = workflow["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-latest"
    uses = [step.get("uses") for step in job["steps"]]
    assert "actions/checkout@v4" in uses and "actions/setup-python@v5" in uses
    setup_python = next(step for step in job["steps"] if step.get("uses") == "actions/setup-python@v5")
    assert setup_python["with"]["python-version"] == "3.12"
    run = next(step for step in job["steps"] if "scripts/test" in step.get("run", ""))
    assert run["run"].strip() == 'sudo -E env "PATH=$PATH" scripts/test'
    assert run["env"]["CI"] == "true"


def test_preview_workflow() -> None:
    workflow = load("preview.yml")
    assert list(workflow["on"]) == ["pull_request"]
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    job = workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == ["staging", "prod"]
    names = [step.get("uses") or step.get("name") for step in job["steps"]]
    assert names.index("actions/checkout@v4") < names.index("scripts/setup (Python only)") < names.index(
        "Cost diff against the base commit") < names.index("actions/github-script@v7") < names.index("pulumi/actions@v7")
    setup = next(step for step in job["steps"] if step.get("name") == "scripts/setup (Python only)")
    assert setup["env"] == {"HP_SKIP_APT": "1"} and setup["run"] == "scripts/setup"
    [pulumi] = pulumi_steps(workflow)
    assert pulumi["with"] == {"command": "preview", "stack-name": "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}",
                              "work-dir": ".", "comment-on-pr": True, "diff": True}
    assert pulumi["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in PULUMI_SECRETS}
    cost = next(step for step in job["steps"] if step.get("name") == "Cost diff against the base commit")
    assert ".github/scripts/cost-diff.sh \"$STACK\" \"$BASE_SHA\"" in cost["run"]
    assert cost["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert "HCLOUD_TOKEN" not in json.dumps(cost)  # the cost diff is offline


def test_up_workflow_staging_then_approved_prod() -> None:
    workflow = load("up.yml")
    assert workflow["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in workflow["on"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    staging, prod = workflow["jobs"]["staging"], workflow["jobs"]["prod"]
    assert prod["needs"] == "staging" and prod["environment"]["name"] == "production"
    [up_staging] = pulumi_steps({"jobs": {"staging": staging}})
    [up_prod] = pulumi_steps({"jobs": {"prod": prod}})
    assert up_staging["with"]["command"] == up_prod["with"]["command"] == "up"
    assert up_staging["with"]["stack-name"] == "${{ vars.PULUMI_ORG }}/staging"
    assert up_prod["with"]["stack-name"] == "${{ vars.PULUMI_ORG }}/prod"


# --- the comment script under node --------------------------------------------------------------------
HARNESS = """
const fs = require('fs');
const state = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const calls = [];
const github = {
  rest: { issues: {
    listComments: 'listComments',
    updateComment: async (args) => { calls.push({ call: 'update', args }); return { data: {} }; },
    createComment: async (args) => { calls.push({ call: 'create', args }); return { data: { id: 999 } }; },
  } },
  paginate: async (method, args) => { calls.push({ call: 'list', method, args }); return state.comments; },
};
const context = { repo: { owner: 'acme', repo: 'infra' }, payload: { pull_request: { number: 7 } } };
const core = { info: (message) => calls.push({ call: 'info', message }) };
(async () => {
%SCRIPT%
})().then(() => process.stdout.write(JSON.stringify(calls)), (error) => { console.error(error); process.exit(1); });
"""


def run_comment_script(tmp_path: Path, comments: list[dict[str, Any]], stack: str = "prod") -> list[dict[str, Any]]:
    step = next(step for _, step in steps(load("preview.yml")) if step.get("uses") == "actions/github-script@v7")
    comment = tmp_path / "comment.md"
    comment.write_text(f"{marker(stack)}\n### Cost change for stack `{stack}`\n", encoding="utf-8")
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS.replace("%SCRIPT%", step["with"]["script"]), encoding="utf-8")
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"comments": comments}), encoding="utf-8")
    result = subprocess.run([tool_path("node"), str(harness), str(state)], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "STACK": stack, "COMMENT_FILE": str(comment)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_comment_script_creates_then_updates_its_own_comment(tmp_path: Path) -> None:
    created = run_comment_script(tmp_path, [])
    assert [c["call"] for c in created] == ["list", "create", "info"]
    assert created[0]["args"] == {"owner": "acme", "repo": "infra", "issue_number": 7, "per_page": 100}
    assert created[1]["args"]["issue_number"] == 7 and created[1]["args"]["body"].startswith(marker("prod"))

    bot = {"type": "Bot"}
    comments = [
        {"id": 1, "user": {"type": "User"}, "body": f"quoting {marker('prod')} by hand"},  # a person's: left alone
        {"id": 2, "user": bot, "body": f"{marker('staging')}\nold staging"},  # the other stack's
        {"id": 3, "user": bot, "body": f"{marker('prod')}\nold prod"},
    ]
    updated = run_comment_script(tmp_path, comments)
    assert [c["call"] for c in updated] == ["list", "update", "info"]
    assert updated[1]["args"]["comment_id"] == 3 and "### Cost change for stack `prod`" in updated[1]["args"]["body"]
    staging = run_comment_script(tmp_path, comments[:1], stack="staging")
    assert [c["call"] for c in staging] == ["list", "create", "info"]


# --- the cost-diff script on a throwaway repository ----------------------------------------------------
def test_cost_diff_script_passes_shellcheck() -> None:
    shellcheck = tool_path("shellcheck")
    result = subprocess.run([shellcheck, str(COST_DIFF)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def _copy_project(destination: Path) -> None:
    """Every Python package of the project (whatever the other parts add) and the Pulumi project file."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for entry in sorted(ROOT.iterdir()):
        if entry.is_dir() and (entry / "__init__.py").exists() and entry.name != "tests":
            shutil.copytree(entry, destination / entry.name, ignore=ignore)
    shutil.copy2(ROOT / "Pulumi.yaml", destination / "Pulumi.yaml")
    (destination / ".github" / "scripts").mkdir(parents=True)
    shutil.copy2(COST_DIFF, destination / ".github" / "scripts" / "cost-diff.sh")


def test_cost_diff_script_reproduces_the_golden_on_a_real_repo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _copy_project(repo)
    shutil.copy2(GOLDEN / "Pulumi.base.yaml", repo / "Pulumi.prod.yaml")
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHON_BIN": sys.executable,
           "HCLOUD_TOKEN": "must-not-be-used", "GIT_CONFIG_NOSYSTEM": "1"}
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *command], check=True, env=env, capture_output=True)
    base_sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    # The pull request: a bigger server and volume for prod, and a new stack.
    shutil.copy2(GOLDEN / "Pulumi.head.yaml", repo / "Pulumi.prod.yaml")
    shutil.copy2(GOLDEN / "Pulumi.head.yaml", repo / "Pulumi.newstack.yaml")

    for stack in ("prod", "newstack"):
        out = tmp_path / f"out-{stack}"
        result = subprocess.run(["bash", str(repo / ".github" / "scripts" / "cost-diff.sh"), stack, base_sha, str(out)],
                                cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        comment = (out / "comment.md").read_text(encoding="utf-8")
        assert comment.startswith(marker(stack) + "\n")
        assert "```mermaid\n---\ntitle: chrono-prod in nbg1 · EUR 41.62/month net, budget 50.00 (warn)" in comment
        if stack == "prod":
            # The base side ran the base commit's stack file: the same table as the golden.
            assert (GOLDEN / "cost-diff-prod.md").read_text(encoding="utf-8") in comment
            assert json.loads((out / "base.json").read_text())["cost"]["total_net_eur"] == 26.9
        else:
            assert json.loads((out / "base.json").read_text()) == {}
            assert "_No plan on the base commit" in comment
        # Prices came from the catalogue: the bogus token never reached the plan.
        assert json.loads((out / "head.json").read_text())["cost"]["live"]["requested"] is False
    # The temporary worktree is gone.
    worktrees = subprocess.run([*git, "worktree", "list"], capture_output=True, text=True, check=True).stdout
    assert len(worktrees.strip().splitlines()) == 1
