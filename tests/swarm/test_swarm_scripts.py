"""The swarm's scripts (membership steps and every server's app step) are shellcheck and bash -n clean,
and the join token never reaches a command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from render.app import app_step, secret_names
from render.steps import HostRuntime, HostStep
from render.swarm_host import parse_tokens, stand_in_tokens_output, swarm_init_step, swarm_join_step, swarm_leave_step, swarm_node_step
from tests.prerequisites import tool_path
from tests.stacks import swarm_config, swarm_values

TOKENS = {"worker": "SWMTKN-1-abc123-worker9", "manager": "SWMTKN-1-abc123-manager9"}


def scripts() -> list[HostStep]:
    steps: list[HostStep] = []
    for proxy in ("traefik", "nginx"):
        values = swarm_values()
        values["app"]["proxy"] = {"kind": proxy}
        config = swarm_config(values)
        for server in config.servers:
            steps.append(app_step(config, server, HostRuntime(), {name: "s3cret'$x" for name in secret_names(config, server)}))
    config = swarm_config()
    steps += [swarm_init_step(config), swarm_join_step(config, "m2", TOKENS), swarm_node_step(config, "m3"), swarm_leave_step(config, "m3")]
    return steps


def test_every_swarm_script_is_shellcheck_clean(tmp_path: Path) -> None:
    shellcheck = tool_path("shellcheck")
    for index, step in enumerate(scripts()):
        path = tmp_path / f"{index:02d}-{step.name}.sh"
        path.write_text(step.script, encoding="utf-8")
        done = subprocess.run([shellcheck, "-s", "bash", "-S", "warning", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0


def test_the_join_token_goes_to_the_api_on_stdin_only() -> None:
    script = swarm_join_step(swarm_config(), "m2", TOKENS).script
    token_lines = [line for line in script.splitlines() if TOKENS["manager"] in line]
    assert token_lines == [f"HP_SWARM_TOKEN='{TOKENS['manager']}'"]  # m2 is a manager; an assignment, never an argument
    assert "docker swarm join" not in script and "--data-binary @-" in script


def test_tokens_round_trip_and_garbage_is_refused() -> None:
    assert parse_tokens(f"changed: swarm\n{stand_in_tokens_output()}") == {
        "worker": "SWMTKN-1-planstandin-worker", "manager": "SWMTKN-1-planstandin-manager",
    }
    with pytest.raises(ValueError):
        parse_tokens("hetzner-platform-swarm-tokens {\"worker\": \"x; reboot\", \"manager\": \"y\"}")
    with pytest.raises(ValueError):
        swarm_join_step(swarm_config(), "m2", {"worker": "$(reboot)", "manager": "x"})


def test_sentinel_secrets_travel_only_as_swarm_secrets_or_interpolated_values() -> None:
    from tests.app.test_secrets import decoded_blocks

    config = swarm_config()
    for server in config.servers:
        names = secret_names(config, server)
        sentinels = {name: f"SENTINEL-{name}-7f3a9c" for name in names}
        step = app_step(config, server, HostRuntime(), sentinels)
        assert "SENTINEL" not in step.script  # only base64 inside heredocs
        assert not any("SENTINEL" in content for content in step.files.values())
        blocks = [(command.splitlines()[-1].strip(), content) for command, content in decoded_blocks(step.script)]
        carried = {command: content for command, content in blocks if "SENTINEL" in content}
        if server != "m1":
            assert not names and not carried
            continue
        assert carried == {
            "swarm_secret POSTGRES_PASSWORD": sentinels["POSTGRES_PASSWORD"],
            "swarm_secret redis_auth_conf": f'requirepass "{sentinels["REDIS_PASSWORD"]}"\n',
            "swarm_secret redis_password": sentinels["REDIS_PASSWORD"],
            "swarm_secret SECRET_KEY": sentinels["SECRET_KEY"],
            "swarm_secret CF_DNS_API_TOKEN": sentinels["CF_DNS_API_TOKEN"],
            "interpolated POSTGRES_PASSWORD": sentinels["POSTGRES_PASSWORD"],
        }
