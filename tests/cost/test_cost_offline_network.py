"""`plan` without --live-prices makes no network call at all, whatever the environment or the stack file
holds: the real CLI runs with a Hetzner token in its environment and pricing.live in the stack file,
inside a network namespace of its own that has no routes, under strace; not one connect() to an inet
address may happen. The same harness with --live-prices does show the attempt (so the test can fail).

Needs root (unshare -n), util-linux `unshare` and `strace` (scripts/setup installs both).
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cost_stacks import phase1_raw

from tests.prerequisites import require_root, require_tool
from tests.stacks import write_stack_file

pytestmark = pytest.mark.cost

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "offline-plan-must-not-use-this-token"
# If anything did try the API, it would aim at the namespace's own loopback (down: nothing answers).
ENDPOINT = "http://127.0.0.1:9/v1"
INET_CONNECT = re.compile(r"connect\(\d+, \{sa_family=AF_INET6?,")


def write_stack(tmp_path: Path) -> Path:
    values: dict[str, Any] = copy.deepcopy(phase1_raw(None))
    values["pricing"]["live"] = True  # the stack file asks for live prices: the plan must still not call
    return write_stack_file(tmp_path / "Pulumi.offline.yaml", values)


def plan_in_empty_netns(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], str, str]:
    """(result, strace log, `ip route show` inside the namespace)."""
    require_root("unshare -n")
    require_tool("unshare", "strace")
    trace = tmp_path / "connect.trace"
    routes = tmp_path / "routes.txt"
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "HCLOUD_TOKEN": TOKEN, "HCLOUD_ENDPOINT": ENDPOINT}
    plan = [sys.executable, "-m", "cli.main", "plan", "--config-file", str(write_stack(tmp_path)), "--json", *extra]
    # One new network namespace (unshare -n: only a loopback interface, down, and no routes). Inside it:
    # record the routing table, then trace every connect() of the plan and its children.
    script = 'ip route show > "$1"; shift; exec strace -f -qq -e trace=connect -o "$0" "$@"'
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", script, str(trace), str(routes), *plan],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    return result, trace.read_text(encoding="utf-8"), routes.read_text(encoding="utf-8")


def test_plan_without_live_prices_makes_no_connection(tmp_path: Path) -> None:
    result, trace, routes = plan_in_empty_netns(tmp_path)
    assert routes.strip() == ""  # the namespace has no route anywhere
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert not INET_CONNECT.findall(trace), trace
    assert '"requested": false' in result.stdout and TOKEN not in result.stdout + result.stderr


def test_the_harness_sees_a_requested_live_read(tmp_path: Path) -> None:
    """Positive control: --live-prices does try the endpoint (and fails: the namespace has no network)."""
    result, trace, _routes = plan_in_empty_netns(tmp_path, "--live-prices")
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert INET_CONNECT.search(trace), trace
    assert "live /v1/pricing not used: cannot connect to http://127.0.0.1:9/v1" in result.stdout
