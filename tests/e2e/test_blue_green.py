"""Blue-green deploys in the real-Docker booted host: no failed request, a broken release never served,
`hp-rollback` in seconds (issue #17).

The host is booted and provisioned as in test_real_docker.py (host steps, stand-in images in the host's
registry), with the api on `strategy: blue-green` behind the nginx stand-in. While each step runs, a
bounded request loop (request_loop.py: <= 50 req/s, <= 90 s, only to the host's veth address after
`ip route get`) asks GET https://api.example.com/version through the proxy:
(a) v1 (web 1.0) -> v2 (1.1): 0 failed, the answers switch from 1.0 to 1.1 once;
(b) v3 (2.0-broken, /health 404): 0 failed, every answer 1.1, the step fails with the health output;
(c) `hp-rollback`: back to 1.0, 0 failed;
(d) `hp-rollback` again: the stopped 1.1 containers (same ids) start and take over, 0 failed.
Each prints requests sent, failed, the switch time (first answer of the new version, from the step's
start) and the step's time. Run: `.venv/bin/pytest tests/e2e/test_blue_green.py -m e2e -q -s` (root).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from config.loader import validate_config
from config.schema import StackConfig
from render.app import app_step
from render.blue_green import LIVE_COLOUR_STATE
from render.cloud_init import render_user_data
from render.host_steps import host_steps
from render.steps import HostRuntime
from spec.resources import resolve
from tests.prerequisites import skip_or_fail

from . import images
from .conftest import BootHost, Report
from .container import BootedHost
from .docker_host import (
    API_HOST,
    APP_SECRETS,
    COMPOSE_BINARY,
    COMPOSE_IN_HOST,
    PROJECT,
    SERVER,
    run_steps,
    stack_values,
)
from .docker_host import e2e_rootfs as e2e_rootfs
from .request_loop import Figures, RequestLoop
from .rootfs import Rootfs
from .ssh import KeyPair
from .step_runs import StepRun

pytestmark = pytest.mark.e2e

RATE = 20.0  # requests per second through the proxy during each step
V1, V2, V3 = images.ref("web", "1.0"), images.ref("web", "1.1"), images.ref("web", "2.0-broken")


@dataclass
class BlueGreenHost:
    host: BootedHost
    config_for: Callable[[str], StackConfig]
    report: Report
    first: list[StepRun]
    figures: dict[str, str] = field(default_factory=dict)

    def root(self, script: str, timeout: float = 300.0) -> tuple[int, str]:
        self.report.commands += 1
        res = self.host.admin.run_script(script, timeout=timeout)
        return res.rc, res.stdout + res.stderr

    def deploy(self, image: str) -> StepRun:
        step = app_step(self.config_for(image), SERVER, HostRuntime(private_ip=None), APP_SECRETS)
        return run_steps(self.host, [step], self.report)[0]

    def deploy_output(self, image: str) -> tuple[int, str]:
        run = self.deploy(image)
        return run.rc, run.stdout + run.stderr

    def live(self) -> str:
        return self.root(f"cat /opt/{PROJECT}/{LIVE_COLOUR_STATE}")[1].strip()


@pytest.fixture(scope="module")
def bg(booted_host_module: BootHost, admin_key: KeyPair, report: Report, e2e_rootfs: Rootfs) -> Iterator[BlueGreenHost]:
    missing = images.missing_machine_binaries() + ([] if COMPOSE_BINARY.exists() else [str(COMPOSE_BINARY)])
    if missing:
        skip_or_fail(f"the stand-in images and the compose plugin need these files from scripts/setup: {missing}")
    user_data = render_user_data(validate_config(stack_values(admin_key.public_line, "203.0.113.0/24", strategy="blue-green")))
    host = booted_host_module(user_data, admin_key, ssh_port=2222, docker=True)
    assert host.merged is not None
    target = host.merged / COMPOSE_IN_HOST.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(COMPOSE_BINARY.read_bytes())

    def config_for(image: str) -> StackConfig:
        return validate_config(stack_values(admin_key.public_line, f"{host.host_ip}/32", image, strategy="blue-green"))

    first_config = config_for(V1)
    first = run_steps(host, host_steps(first_config, resolve(first_config), SERVER, HostRuntime(private_ip=None)), report)
    assert all(run.rc == 0 for run in first), "\n".join(run.describe() for run in first if run.rc != 0)
    images.start_registry(host)
    images.build_and_push(host, e2e_rootfs.path / "bin/busybox")
    result = BlueGreenHost(host, config_for, report, first)
    v1 = result.deploy(V1)
    assert v1.rc == 0, v1.describe()
    result.first.append(v1)
    yield result
    report.lines += [f"blue-green {name}: {line}" for name, line in result.figures.items()]


MAX_OVERLAP = 1.0  # seconds both versions may answer around the switch (the reload's worker hand-over)


def switched(figures: Figures, old: str, new: str) -> bool:
    """The answers went from `old` to `new`: first and last as expected, both only around the switch."""
    versions = figures.versions()
    return bool(versions) and versions[0] == old and versions[-1] == new and set(versions) == {old, new} \
        and figures.overlap(old, new) <= MAX_OVERLAP


def measured(bg: BlueGreenHost, name: str, action: Callable[[], tuple[int, str]], new_version: str,
             old_version: str) -> tuple[int, str, RequestLoop]:
    """Run `action` while the request loop runs; record the figures under `name`."""
    with RequestLoop(bg.host, API_HOST, rate=RATE) as loop:
        time.sleep(2)  # a baseline of answers before the step starts
        started = time.monotonic() - loop.started
        step_start = time.monotonic()
        rc, output = action()
        step_seconds = time.monotonic() - step_start
        time.sleep(2)  # and after it ended
    figures = loop.figures
    seen = figures.first_seen(new_version)
    switch = f"{seen - started:.2f} s" if seen is not None and seen >= started else "none"
    line = (f"requests sent {figures.sent}, failed {len(figures.failed)}, switch after {switch} "
            f"(both versions answered for {figures.overlap(old_version, new_version):.2f} s), step {step_seconds:.1f} s, "
            f"{figures.summary()} (rc {rc})")
    bg.figures[name] = line
    print(f"\nblue-green {name}: {line}")
    return rc, output, loop


def test_a_v1_to_v2_switches_without_a_failed_request(bg: BlueGreenHost) -> None:
    before = bg.live()
    rc, output, loop = measured(bg, "(a) v1 -> v2 deploy", lambda: bg.deploy_output(V2), "1.1", "1.0")
    figures = loop.figures
    assert rc == 0, output
    assert figures.failed == [], f"{figures.summary()}\n{output}"
    assert switched(figures, "1.0", "1.1"), f"{figures.summary()} {figures.versions()}\n{output}"
    assert bg.live() != before
    # The previous colour is stopped but present, for hp-rollback.
    rc, states = bg.root(f"docker ps -a --filter label=com.docker.compose.project={PROJECT}-{before} --format '{{{{.State}}}}'")
    assert states.split() == ["exited"], states
    # ... and a transient timer removes it after deploy.keepPreviousMinutes.
    rc, timer = bg.root(f"systemctl is-active hp-retire-{PROJECT}-{before}.timer")
    assert timer.strip() == "active", timer
    # The same release again: nothing to do (the live colour runs it and is healthy).
    again = bg.deploy(V2)
    assert (again.rc, again.changed) == (0, 0), again.describe()
    bg.report.check(f"(a) v1 -> v2 blue-green: {bg.figures['(a) v1 -> v2 deploy']}; the same release again: changed=0")


def test_b_broken_v3_is_never_served(bg: BlueGreenHost) -> None:
    live = bg.live()
    rc, output, loop = measured(bg, "(b) broken v3 deploy", lambda: bg.deploy_output(V3), "2.0-broken", "1.1")
    figures = loop.figures
    assert rc != 0, output
    assert "health: GET http://api-" in output and "/health" in output and "HTTP 404" in output, output
    assert figures.failed == [], f"{figures.summary()}\n{output}"
    assert figures.versions() == ["1.1"], f"{figures.summary()}\n{output}"
    assert bg.live() == live
    bg.report.check(f"(b) broken v3 (/health 404): step failed with the health output; {bg.figures['(b) broken v3 deploy']}")


def test_c_hp_rollback_switches_back_to_v1(bg: BlueGreenHost) -> None:
    live = bg.live()
    rc, output, loop = measured(bg, "(c) hp-rollback to v1", lambda: bg.root("/usr/local/sbin/hp-rollback"), "1.0", "1.1")
    figures = loop.figures
    assert rc == 0, output
    assert figures.failed == [], f"{figures.summary()}\n{output}"
    assert switched(figures, "1.1", "1.0"), f"{figures.summary()} {figures.versions()}\n{output}"
    assert bg.live() != live
    bg.report.check(f"(c) hp-rollback: {bg.figures['(c) hp-rollback to v1']}")


def test_d_hp_rollback_right_after_a_switch_only_starts_the_stopped_colour(bg: BlueGreenHost) -> None:
    """After (c) the v2 colour is stopped but present: rolling back to it starts the same containers."""
    live = bg.live()
    idle = "green" if live == "blue" else "blue"
    listing = f"docker ps -aq --no-trunc --filter label=com.docker.compose.project={PROJECT}-{idle}"
    before = bg.root(listing)[1].split()
    rc, output, loop = measured(bg, "(d) hp-rollback to the stopped v2", lambda: bg.root("/usr/local/sbin/hp-rollback"),
                                "1.1", "1.0")
    figures = loop.figures
    assert rc == 0, output
    assert figures.failed == [], f"{figures.summary()}\n{output}"
    assert switched(figures, "1.0", "1.1"), f"{figures.summary()} {figures.versions()}\n{output}"
    assert bg.root(listing)[1].split() == before and before, "the stopped containers were replaced, not started"
    bg.report.check(f"(d) hp-rollback to stopped containers (same ids): {bg.figures['(d) hp-rollback to the stopped v2']}")


def test_e_retire_removes_only_a_stopped_colour(bg: BlueGreenHost) -> None:
    """What the keepPreviousMinutes timer runs: `hp-rollback --retire COLOUR`."""
    live = bg.live()
    idle = "green" if live == "blue" else "blue"
    count = "docker ps -aq --filter label=com.docker.compose.project={project} | wc -l"
    rc, output = bg.root(f"/usr/local/sbin/hp-rollback --retire {live}")
    assert rc == 0 and "is live again; keeping it" in output, output
    assert int(bg.root(count.format(project=f"{PROJECT}-{live}"))[1]) == 1
    rc, output = bg.root(f"/usr/local/sbin/hp-rollback --retire {idle}")
    assert rc == 0 and f"removed the stopped {idle} containers" in output, output
    assert int(bg.root(count.format(project=f"{PROJECT}-{idle}"))[1]) == 0
    rc, output = bg.root("/usr/local/sbin/hp-rollback")
    assert rc != 0 and "nothing to roll back to" in output, output
    bg.report.check(f"hp-rollback --retire: keeps the live {live}, removes the stopped {idle}; then nothing to roll back to")
