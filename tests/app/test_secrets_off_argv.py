"""No secret on a command line, in any stack or preset (issue 19, point 8).

Every secret gets a sentinel value; then every step of every server of every stack file and preset is
rendered with them, and:
- the sentinels may only be inside the data files meant for them (env files, a release's secret files);
- the real `docker compose config` interpolates each compose file with the sentinels, and no service's
  command, entrypoint or healthcheck holds one (argv is visible in `docker inspect` and `ps`), nor names
  a secret for a shell in the container to expand;
- no systemd Exec line and no `docker run`/`docker login` line of any script holds a sentinel or names
  a secret variable.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from config.schema import StackConfig
from render.app import app_step, render_env_file, secret_names
from render.host_steps import host_steps
from render.ops import ops_step
from render.ops_conf import ops_secret_names
from render.steps import HostRuntime, HostStep
from spec.resources import resolve
from tests.prerequisites import require_tool
from tests.stacks import EXAMPLES, ROOT, preset_config

from .conftest import COMPOSE_BIN
from .test_secrets import decoded_blocks

STACKS = sorted([ROOT / "Pulumi.prod.yaml", ROOT / "Pulumi.staging.yaml", *EXAMPLES.glob("*.yaml")])
# Variables the ops scripts read secrets from (render/ops.py ops_env).
OPS_SECRET_VARS = ("HP_ALERT_WEBHOOK_URL", "RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
DATA_FILE = re.compile(r"(/\.env$|/secrets/|/ops\.env$|/grafana\.env$|storagebox)")
ARGV_LINE = re.compile(r"^\s*Exec\w*=|docker (run|login)\b")


def sentinel(name: str) -> str:
    return f"SENTINEL-{name}-9d2c"


def rendered_steps(config: StackConfig, server: str) -> tuple[list[HostStep], dict[str, str]]:
    names = [*secret_names(config, server), *ops_secret_names(config)]
    values = {name: sentinel(name) for name in names}
    steps = list(host_steps(config, resolve(config), server, HostRuntime()))
    steps.append(app_step(config, server, HostRuntime(), values))
    ops = ops_step(config, server, HostRuntime(), values)
    if ops is not None:
        steps.append(ops)
    return steps, values


def compose_resolved(compose_text: str, values: dict[str, str], directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "docker-compose.yml").write_text(compose_text, encoding="utf-8")
    (directory / ".env").write_text(render_env_file(values), encoding="utf-8")
    done = subprocess.run(
        [str(COMPOSE_BIN), "--project-directory", str(directory), "-f", str(directory / "docker-compose.yml"),
         "--env-file", str(directory / ".env"), "config", "--format", "json"],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def argv_parts(service: dict[str, Any]) -> str:
    parts = [service.get("command"), service.get("entrypoint"), (service.get("healthcheck") or {}).get("test")]
    return json.dumps([part for part in parts if part])


@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.name)
def test_no_secret_on_any_command_line(path: Path, tmp_path: Path) -> None:
    require_tool("docker-compose")
    config = preset_config(path)
    for server in config.servers:
        steps, values = rendered_steps(config, server)
        secret_vars = [*values, *OPS_SECRET_VARS]
        for step in steps:
            for file_path, content in step.files.items():
                if DATA_FILE.search(file_path):
                    continue
                leaked = [name for name, value in values.items() if value in content]
                assert not leaked, f"{server}: {file_path} holds the value of {leaked}"
            payloads = [content for _, content in decoded_blocks(step.script)] + [step.script, *step.files.values()]
            for text in payloads:
                for line in text.splitlines():
                    if ARGV_LINE.search(line):
                        assert not any(value in line for value in values.values()), (server, step.name, line)
                        assert not any(re.search(rf"\$\{{?{var}\b", line) for var in secret_vars), (server, step.name, line)
            compose = next((c for f, c in step.files.items() if f.endswith("/docker-compose.yml")), None)
            if compose is None:
                continue
            model = compose_resolved(compose, values, tmp_path / server)
            for name, service in model["services"].items():
                argv = argv_parts(service)
                assert not any(value in argv for value in values.values()), f"{server}/{name}: a secret in argv: {argv}"
                assert not any(re.search(rf"\$\$?\{{?{var}\b", argv) for var in values), f"{server}/{name}: {argv}"


def test_the_scan_catches_a_password_on_the_command_line(tmp_path: Path) -> None:
    """The check above fails on the old rendering: `--requirepass ${REDIS_PASSWORD}` in Redis' command."""
    require_tool("docker-compose")
    compose = "name: t\nservices:\n  redis:\n    image: redis:7\n    command: [redis-server, --requirepass, '${REDIS_PASSWORD:?x}']\n"
    values = {"REDIS_PASSWORD": sentinel("REDIS_PASSWORD")}
    argv = argv_parts(compose_resolved(compose, values, tmp_path)["services"]["redis"])
    assert values["REDIS_PASSWORD"] in argv
