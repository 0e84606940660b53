"""Rendered steps run in a booted host as pulumi-command's remote.Command runs them: a new SSH connection per
step, `sudo bash -s`, the script on stdin; and the records the e2e modules keep of each run.

How a container-only skip reaches the scripts: `sudo` resets the environment, so the line
`export HP_SKIP=<tokens>` goes in front of each script's text (the shebang is only a comment for
`bash -s`). Production sends the scripts unchanged; the tokens are those render/templates/host/lib.sh
documents, and each e2e module says which it needs and why.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from render.steps import HostStep

from .conftest import Report
from .container import BootedHost

# Like components/host_setup.py's connection (dial_error_limit, 200 there): a refused connection is retried. The
# ssh step reloads sshd, which closes its listening socket for a moment.
DIAL_ATTEMPTS = 40
# Once found here (and fixed in the scripts): `producer | grep -q` under `set -o pipefail` fails at
# random when grep exits at the match and the producer gets SIGPIPE (network.sh added the floating IP
# twice). The second run of every chain must now be clean every time.
SUMMARY_RE = re.compile(r"^hetzner-platform step=(\S+) changed=(\d+)$", re.MULTILINE)


@dataclass
class StepRun:
    name: str
    rc: int
    seconds: float
    changed: int | None  # from the script's own summary line; None if it printed none
    stdout: str
    stderr: str
    dials: int = 1  # SSH connection attempts (refused dials are retried, see DIAL_ATTEMPTS)

    def lines(self, prefix: str) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith(prefix)]

    def describe(self) -> str:
        head = f"--- step {self.name}: rc {self.rc}, changed {self.changed}, {self.seconds:.2f} s, {self.dials} dial(s)"
        return f"{head}\n--- stdout:\n{self.stdout}--- stderr:\n{self.stderr}"


def with_skip(script: str, skip: Sequence[str]) -> str:
    """The step script as the tests send it: the HP_SKIP export first."""
    return f"export HP_SKIP={','.join(skip)}\n" + script


def changed_count(stdout: str, step: str) -> int | None:
    """The `changed=N` of the step's last summary line, None if it printed none."""
    found = [m for m in SUMMARY_RE.finditer(stdout) if m.group(1) == step]
    return int(found[-1].group(2)) if found else None


def run_steps(host: BootedHost, steps: Iterable[HostStep], report: Report, *, skip: Sequence[str],
              timeout: float) -> list[StepRun]:
    """Every step in order, one SSH connection each; a step that fails does not stop the others, so one
    run shows every broken step (the later steps do not depend on a failed one's success)."""
    runs = []
    for step in steps:
        report.commands += 1
        started = time.monotonic()
        try:
            res = host.admin.run_script(with_skip(step.script, skip), timeout=timeout, dial_attempts=DIAL_ATTEMPTS)
            rc, out, err, dials = res.rc, res.stdout, res.stderr, res.dials
        except Exception as exc:  # SSH itself failed (e.g. a step locked us out): record it
            rc, out, err, dials = -1, "", f"{type(exc).__name__}: {exc}", DIAL_ATTEMPTS
        runs.append(StepRun(step.name, rc, round(time.monotonic() - started, 2), changed_count(out, step.name), out, err, dials))
    return runs


def step_table(runs: Iterable[StepRun]) -> str:
    return "  ".join(
        f"{run.name}=rc{run.rc}/changed{run.changed}/{run.seconds:.1f}s" + (f"/{run.dials}dials" if run.dials > 1 else "") for run in runs
    )
