"""Run a step that handles secrets so that its output can never leak them through Pulumi.

pulumi-command puts a failing command's whole stdout and stderr into the error it reports
("%w: running %q:\\n%s", github.com/pulumi/pulumi-command provider/pkg/provider/remote/commandOutputs.go),
whatever `logging` says, and that error lands in the terminal, CI logs and the Pulumi service. So the
app and ops steps run inside this wrapper: the step's own output goes to a root-only log on the server
(STEP_LOG_DIR, 0700, the file 0600) and only a summary leaves the host, with every secret value (each line of
it of at least MIN_REDACTED_LENGTH characters, and its base64 form) replaced by "[redacted]".
"""

from __future__ import annotations

import base64
import hashlib
import textwrap
from collections.abc import Iterable

from spec.host_paths import STEP_LOG_DIR

SUMMARY_LINES = 20
MIN_REDACTED_LENGTH = 4
REDACTED = "[redacted]"


def step_log_path(step: str) -> str:
    return f"{STEP_LOG_DIR}/step-{step}.log"


def _redaction_list(secret_values: Iterable[str]) -> str:
    needles: set[str] = set()
    for value in secret_values:
        needles.update(line for line in value.splitlines() if len(line) >= MIN_REDACTED_LENGTH)
        if len(value) >= MIN_REDACTED_LENGTH:
            needles.add(base64.b64encode(value.encode()).decode())
    return "".join(f"{needle}\n" for needle in sorted(needles))


# awk: literal (not regex) replacement of every needle read from the first file.
_REDACT_AWK = (
    'FILENAME == ARGV[1] { if (length($0) > 0) needles[++n] = $0; next } '
    '{ line = $0; for (i = 1; i <= n; i++) { while ((p = index(line, needles[i])) > 0) '
    f'line = substr(line, 1, p - 1) "{REDACTED}" substr(line, p + length(needles[i])) }} print line }}'
)


def redacting_wrapper(step: str, script: str, secret_values: Iterable[str]) -> str:
    """A bash script that runs `script` with its output in a root-only log and prints a redacted summary."""
    body = script if script.endswith("\n") else script + "\n"
    delimiter = f"HP_STEP_{hashlib.sha256(body.encode()).hexdigest()[:16]}"
    assert delimiter not in body
    needles = base64.b64encode(_redaction_list(secret_values).encode()).decode()
    log = step_log_path(step)
    return f"""#!/usr/bin/env bash
# hetzner-platform: the {step} step handles secrets. Its output goes to {log} (root only); what
# leaves the server is a summary with every secret value replaced by {REDACTED} (render/redacted_step.py).
set -uo pipefail
umask 077
log="${{HP_ROOT:-}}{log}"
install -d -m 0700 "$(dirname "$log")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/step.sh" <<'{delimiter}'
{body}{delimiter}
base64 -d >"$work/needles" <<'HP_NEEDLES'
{textwrap.fill(needles, 76) if needles else ""}
HP_NEEDLES
redact() {{ awk '{_REDACT_AWK}' "$work/needles" -; }}
bash "$work/step.sh" </dev/null >"$work/output" 2>&1
status=$?
{{ printf '=== step {step}, exit status %s\\n' "$status"; cat "$work/output"; }} >>"$log"
chmod 0600 "$log"
if [ "$status" -ne 0 ]; then
    echo "hetzner-platform step={step} failed (exit status $status). Last {SUMMARY_LINES} lines, secrets redacted:"
    tail -n {SUMMARY_LINES} "$work/output" | redact
    echo "The whole output is in {log} on the server (root only; it may contain secrets)."
    exit "$status"
fi
redact <"$work/output"
"""


def unwrapped_script(script: str) -> str:
    """The step script inside a redacting wrapper (for `plan --out`); any other script as it is."""
    lines = script.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith('cat >"$work/step.sh" <<\'HP_STEP_'):
            delimiter = line.split("<<'", 1)[1].split("'", 1)[0]
            end = lines.index(f"{delimiter}\n", index + 1)
            return "".join(lines[index + 1:end])
    return script
