"""`producer | grep -q` under `set -o pipefail` fails at random: grep exits at the first match, the
producer dies of SIGPIPE on its next write, and the pipeline reports failure. The e2e container caught
it twice (a floating IP added twice, release files pruned while still in use); this keeps it out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "render" / "templates"
PIPE_INTO_GREP_Q = re.compile(r"(?<!\|)\|(?!\|)\s*grep\s+-[A-Za-z]*q")


@pytest.mark.render
def test_no_template_pipes_into_grep_q() -> None:
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*"))
        if path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if PIPE_INTO_GREP_Q.search(line) and not line.lstrip().startswith("#")
    ]
    assert not offenders, "use `grep ... >/dev/null` or grep a captured string instead:\n" + "\n".join(offenders)


@pytest.mark.render
def test_the_check_catches_the_pattern() -> None:
    assert PIPE_INTO_GREP_Q.search('ip -o addr show | grep -qF " 1.2.3.4/32 "')
    assert not PIPE_INTO_GREP_Q.search('ip -o addr show | grep -F " 1.2.3.4/32 " >/dev/null')
    assert not PIPE_INTO_GREP_Q.search("check || grep -q '^E:' <<<\"$errors\"")
