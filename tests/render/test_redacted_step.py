"""Steps that handle secrets print a redacted summary; details go to a root-only log (issue 14, item 6).

The wrapper the program sends as stdin runs under real bash here, with HP_ROOT pointing into tmp_path.
"""

from __future__ import annotations

import copy
import os
import stat
import subprocess
from pathlib import Path

import pytest

from cli.render_out import write_rendered_files
from render.redacted_step import redacting_wrapper, step_log_path, unwrapped_script
from tests.stacks import PROD, evaluate_values
from tests.unit.test_guards_and_secrets import PROD_FILE_VALUES

SECRET = "s3cr3t-Pa55word-91c2"
MULTILINE = "-----BEGIN KEY-----\nAAAAsecretkeyline1\nBBBBsecretkeyline2\n-----END KEY-----"
LEAKY_STEP = f"""set -e
echo "connecting with password {SECRET}"
printf '%s\\n' '{MULTILINE}'
echo "b64 $(printf %s '{SECRET}' | base64)"
echo "migration failed" >&2
exit 3
"""


def run(script: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-s"], input=script, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "HP_ROOT": str(root)}, check=False)


def test_a_failing_step_prints_a_redacted_summary_and_logs_the_rest_root_only(tmp_path: Path) -> None:
    result = run(redacting_wrapper("app", LEAKY_STEP, [SECRET, MULTILINE]), tmp_path)
    assert result.returncode == 3
    shown = result.stdout + result.stderr
    assert SECRET not in shown and "secretkeyline" not in shown
    assert "connecting with password [redacted]" in shown and "migration failed" in shown
    assert "hetzner-platform step=app failed (exit status 3)" in shown
    log = tmp_path / step_log_path("app").lstrip("/")
    assert SECRET in log.read_text()  # the details stay on the server
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_a_succeeding_step_passes_its_output_redacted(tmp_path: Path) -> None:
    result = run(redacting_wrapper("ops", f"echo ok {SECRET}\n", [SECRET]), tmp_path)
    assert result.returncode == 0 and result.stdout == "ok [redacted]\n"


def test_no_secrets_to_redact_still_prints_the_output(tmp_path: Path) -> None:
    result = run(redacting_wrapper("ops", "echo plain; exit 1\n", []), tmp_path)
    assert result.returncode == 1 and "plain" in result.stdout


@pytest.fixture
def leaky_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program's real app step replaced by one that echoes every secret it was given and fails."""
    import render.app
    from render.steps import HostStep

    def leaky(config: object, server: str, runtime: object, secrets: dict[str, str]) -> HostStep:
        assert secrets, "the leaky step must be given secrets, or the test proves nothing"
        echoes = "".join(f"echo 'value: {value}'\n" for value in secrets.values())
        return HostStep(name="app", script=f"{echoes}exit 1\n")

    monkeypatch.setattr(render.app, "app_step", leaky)


@pytest.mark.usefixtures("leaky_app")
def test_the_programs_app_command_never_shows_a_secret_on_failure(tmp_path: Path) -> None:
    values = copy.deepcopy(PROD_FILE_VALUES)
    values["appSecrets"] = {"POSTGRES_PASSWORD": SECRET}
    evaluation = evaluate_values(tmp_path / "plan", values)
    [app] = [c for c in evaluation.mocks.by_type("command:remote:Command") if c.name == "host-app-app"]
    stdin = str(app.inputs["stdin"])
    assert f"value: {SECRET}" in stdin  # the value does reach the host (a secret stdin) ...
    result = run(stdin, tmp_path / "host")
    assert result.returncode == 1 and "value: [redacted]" in result.stdout
    assert SECRET not in result.stdout + result.stderr  # ... and never comes back in the error


def test_plan_out_writes_the_step_itself(tmp_path: Path) -> None:
    evaluation = evaluate_values(tmp_path / "plan", PROD)
    platform = evaluation.platform
    written = write_rendered_files(platform.config, platform.spec, evaluation, tmp_path / "out")
    app = next(path for path in written if path.name.endswith("-app.sh"))
    text = app.read_text()
    assert "HP_STEP_" not in text and text.startswith("#!/usr/bin/env bash\n# hetzner-platform app step")
    assert unwrapped_script("echo plain\n") == "echo plain\n"


def test_the_wrapper_passes_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "wrapper.sh"
    script.write_text(redacting_wrapper("app", "echo hi\n", [SECRET]), encoding="utf-8")
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_a_step_that_reads_stdin_cannot_eat_the_rest_of_the_wrapper(tmp_path: Path) -> None:
    # The wrapper itself arrives on stdin (`sudo bash -s`): a tool in the step that reads stdin must not
    # swallow the wrapper's remaining lines (the status handling and the summary).
    result = run(redacting_wrapper("app", "cat >/dev/null\necho read-stdin\nexit 4\n", [SECRET]), tmp_path)
    assert result.returncode == 4
    assert "hetzner-platform step=app failed (exit status 4)" in result.stdout and "read-stdin" in result.stdout
