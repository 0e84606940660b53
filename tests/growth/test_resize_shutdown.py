"""Before a type change the app stops and the server shuts down cleanly over SSH; after it the app starts
again (issue 14, item 2). The provider would otherwise power the running server off hard."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from components import program
from components.wait_port_closed import wait
from config.loader import validate_config
from render.resize_steps import start_after_resize_script, stop_before_resize_script
from tests.growth.support import SERVER_TYPE, evaluate_with_past
from tests.stacks import PROD, prod_app_server

REMOTE = "command:remote:Command"
LOCAL = "command:local:Command"
SNAPSHOT = "hcloud:index/snapshot:Snapshot"


@pytest.fixture
def no_host_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program, "step_sources", lambda spec: [])


@pytest.mark.usefixtures("no_host_steps")
def test_a_type_change_stops_the_app_and_shuts_down_before_the_server_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluation, _ = evaluate_with_past(tmp_path, prod_app_server(serverType="cx43", snapshotBeforeResize=True),
                                    {"app": {"type": "cx33", "diskGb": 80}}, monkeypatch)
    order = [(r.type, r.name) for r in evaluation.mocks.resources]
    stop = (REMOTE, "chrono-prod-app-resize-cx33-to-cx43-stop")
    wait_off = (LOCAL, "chrono-prod-app-resize-cx33-to-cx43-wait-off")
    start = (REMOTE, "chrono-prod-app-resize-cx33-to-cx43-start")
    server = (SERVER_TYPE, "chrono-prod-app")
    snapshot = next(item for item in order if item[0] == SNAPSHOT)
    # Registration follows depends_on: stop -> wait until off -> snapshot -> Server update -> start.
    assert order.index(stop) < order.index(wait_off) < order.index(snapshot) < order.index(server) < order.index(start)
    [stop_command] = [r for r in evaluation.mocks.by_type(REMOTE) if r.name == stop[1]]
    assert "stop --timeout 120" in stop_command.inputs["stdin"] and "systemctl poweroff" in stop_command.inputs["stdin"]
    assert stop_command.inputs["create"] == "sudo bash -s"
    [wait_command] = evaluation.mocks.by_type(LOCAL)
    assert "components.wait_port_closed" in wait_command.inputs["create"] and wait_command.inputs["create"].endswith(" 2222")


@pytest.mark.usefixtures("no_host_steps")
@pytest.mark.parametrize("previous", [None, {"app": {"type": "cx33", "diskGb": 80}}])
def test_no_type_change_runs_no_resize_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, previous: Any) -> None:
    evaluation, _ = evaluate_with_past(tmp_path, prod_app_server(serverType="cx33"), previous, monkeypatch)
    assert evaluation.mocks.by_type(REMOTE) == [] and evaluation.mocks.by_type(LOCAL) == []


def fake_tools(tmp_path: Path) -> dict[str, str]:
    """docker and systemd-run that log their arguments instead of acting."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "systemd-run"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >>"{tmp_path}/calls"\n')
        (bin_dir / tool).chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_the_stop_and_start_scripts_run_compose_and_a_delayed_poweroff(tmp_path: Path) -> None:
    config = validate_config(PROD)
    stop = stop_before_resize_script(config, "app", "cx33", "cx43")
    start = start_after_resize_script(config, "app")
    for name, script in (("stop", stop), ("start", start)):
        (tmp_path / f"{name}.sh").write_text(script)
        check = subprocess.run(["shellcheck", str(tmp_path / f"{name}.sh")], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout
    # The scripts address /opt/<project>/current; run them with that path rewritten into tmp_path.
    current = tmp_path / "opt" / "chrono" / "current"
    current.mkdir(parents=True)
    (current / "docker-compose.yml").write_text("services: {}\n")
    env = fake_tools(tmp_path)
    for script in (stop, start):
        result = subprocess.run(["bash", "-s"], input=script.replace("/opt/chrono", str(tmp_path / "opt" / "chrono")),
                                capture_output=True, text=True, env=env, check=False)
        assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].startswith("docker compose --project-name chrono") and calls[0].endswith("stop --timeout 120")
    assert calls[1].startswith("systemd-run --quiet --unit=hetzner-platform-resize-poweroff --on-active=5 systemctl poweroff")
    assert calls[2].endswith(" start")


@pytest.fixture
def loopback_route() -> None:
    """These tests dial 127.0.0.1 only, and only once the kernel routes it through the loopback device."""
    route = subprocess.run(["ip", "route", "get", "127.0.0.1"], capture_output=True, text=True, check=True).stdout
    assert " dev lo " in route, route


@pytest.mark.usefixtures("loopback_route")
def test_wait_port_closed_returns_once_the_port_stops_answering() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    threading.Timer(0.5, listener.close).start()
    assert wait("127.0.0.1", port, poll_s=0.1, grace_s=0, max_wait_s=30) is True


@pytest.mark.usefixtures("loopback_route")
def test_wait_port_closed_gives_up_after_its_limit() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert wait("127.0.0.1", listener.getsockname()[1], poll_s=0.05, grace_s=0, max_wait_s=0.3) is False
