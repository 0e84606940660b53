"""Each step waits only for the cloud-assigned values it reads (render.steps.STEP_RUNTIME_FIELDS).

If a step read a value it is not declared to read, the host would get a script rendered without it;
the equivalence test renders every step of every stack and preset both ways and compares the scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

import cli.evaluate
from cli.mocks import RecordingMocks
from components.program import step_sources
from config.loader import validate_config
from config.schema import StackConfig
from config.stack_base import read_merged_stack_file
from render.steps import STEP_RUNTIME_FIELDS, HostRuntime, limited_runtime, runtime_fields
from spec.resources import resolve
from tests.stacks import PHASE2, PROD, STAGING, write_stack

ROOT = Path(__file__).resolve().parents[2]
PRESETS = sorted((ROOT / "examples").glob("Pulumi.*.yaml"))


def has_unknown(value: Any) -> bool:
    """Whether a recorded input holds a value Pulumi does not know yet (shown as "(known after apply)")."""
    if isinstance(value, pulumi.output.Unknown):
        return True
    if isinstance(value, dict):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(has_unknown(item) for item in value)
    return False


class AnySecret(dict[str, str]):
    """Every secret name the renderers ask for, with a visible stand-in value."""

    def __missing__(self, name: str) -> str:
        return f"<secret {name}>"


def full_runtime(config: StackConfig, server: str) -> HostRuntime:
    spec = resolve(config)
    volume_ids = {volume.name: 4000 + index for index, volume in enumerate(spec.volumes) if volume.server == server}
    has_fip = spec.floating_ip is not None and spec.floating_ip.server == server
    return HostRuntime(volume_ids=volume_ids, floating_ip="192.0.2.10" if has_fip else None, private_ip=spec.server(server).private_ip)


def load_configs() -> list[tuple[str, StackConfig]]:
    found = [("prod", validate_config(PROD)), ("staging", validate_config(STAGING)), ("phase2", validate_config(PHASE2))]
    for path in PRESETS:
        found.append((path.name, validate_config(read_merged_stack_file(path).values)))
    return found


CONFIGS = load_configs()


@pytest.mark.parametrize(("label", "config"), CONFIGS, ids=[label for label, _ in CONFIGS])
def test_every_step_renders_the_same_with_only_its_declared_runtime_fields(label: str, config: StackConfig) -> None:
    checked = 0
    for server in resolve(config).servers:
        runtime = full_runtime(config, server.name)
        for source in step_sources(resolve(config)):
            full = {step.name: step.script for step in source.render(config, server.name, runtime, AnySecret())}
            for name, script in full.items():
                limited = limited_runtime(runtime, runtime_fields(name))
                again = {step.name: step.script for step in source.render(config, server.name, limited, AnySecret())}
                assert again[name] == script, f"{label}/{server.name}: step {name} reads runtime values it does not declare"
                checked += 1
    assert checked >= 9


def test_declared_fields_are_really_read() -> None:
    """Not over-declared either: without its field, each listed step renders differently."""
    config = validate_config(PROD)
    runtime = full_runtime(config, "app")
    assert runtime.volume_ids and runtime.floating_ip
    host_source = step_sources(resolve(config))[0]  # the host steps, among them storage and network
    full = {step.name: step.script for step in host_source.render(config, "app", runtime, AnySecret())}
    bare = HostRuntime(private_ip=runtime.private_ip)
    without = {step.name: step.script for step in host_source.render(config, "app", bare, AnySecret())}
    for name in STEP_RUNTIME_FIELDS:
        assert without[name] != full[name], name


class PreviewWithNewVolume(RecordingMocks):
    """A preview in which the volume does not exist yet: Hetzner has not assigned its id."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        if args.typ == "hcloud:index/volume:Volume":
            return "", {key: value for key, value in outputs.items() if key != "linuxDevice"}
        return resource_id, outputs


def test_preview_adding_a_volume_shows_only_the_storage_step_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mocks = PreviewWithNewVolume()
    set_mocks = pulumi.runtime.set_mocks
    monkeypatch.setattr(cli.evaluate, "RecordingMocks", lambda: mocks)
    monkeypatch.setattr(cli.evaluate.pulumi.runtime, "set_mocks", lambda m, **kw: set_mocks(m, **{**kw, "preview": True}))
    cli.evaluate.evaluate(write_stack(tmp_path, STAGING))
    commands = {c.name.rsplit("-", 1)[-1]: c for c in mocks.by_type("command:remote:Command")}
    assert "storage" in commands and "base" in commands
    unknown_stdin = {name for name, command in commands.items() if has_unknown(command.inputs.get("stdin"))}
    unknown_trigger = {name for name, command in commands.items() if has_unknown(command.inputs.get("triggers"))}
    # Only the storage step waits for the new volume's id; every other step's trigger is known and
    # unchanged, so the preview shows one command to replace instead of all of them.
    assert unknown_stdin == unknown_trigger == {"storage"}, (unknown_stdin, unknown_trigger)
