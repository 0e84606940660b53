"""Write what each server receives to a directory: step scripts exactly as sent, and every file."""

from __future__ import annotations

from pathlib import Path

from cli.evaluate import Evaluation
from config.schema import StackConfig
from render.cloud_init import render_user_data
from render.redacted_step import unwrapped_script
from render.steps import HostRuntime
from spec.resources import PlatformSpec


def runtime_from_mocks(spec: PlatformSpec, evaluation: Evaluation, server: str) -> HostRuntime:
    """The stand-in ids and addresses the mocks handed out, so files match the step scripts."""
    by_name = {(r.type, r.name): r for r in evaluation.mocks.resources}
    volume_ids = {
        volume.name: int(by_name[("hcloud:index/volume:Volume", volume.resource_name)].id)
        for volume in spec.volumes
        if volume.server == server
    }
    floating_ip = None
    if spec.floating_ip and spec.floating_ip.server == server:
        floating_ip = by_name[("hcloud:index/floatingIp:FloatingIp", spec.floating_ip.resource_name)].outputs.get("ipAddress")
    return HostRuntime(volume_ids=volume_ids, floating_ip=floating_ip, private_ip=spec.server(server).private_ip)


def server_files(config: StackConfig, spec: PlatformSpec, server: str, runtime: HostRuntime) -> dict[str, str]:
    """Every file the host, app and ops steps install on this server (secrets as placeholders)."""
    from render.app import app_files
    from render.host_steps import render_host_files
    from render.ops import ops_files

    files = dict(render_host_files(config, spec, server, runtime))
    files.update(app_files(config, server))
    files.update(ops_files(config, server))
    return files


def swarm_scripts(config: StackConfig, server: str) -> dict[str, str]:
    """app.engine swarm: the membership scripts this server runs (components/swarm.py), tokens as stand-ins."""
    if config.app.engine != "swarm":
        return {}
    from render.swarm_host import (
        parse_tokens,
        stand_in_tokens_output,
        swarm_init_step,
        swarm_join_step,
        swarm_leave_step,
        swarm_node_step,
    )
    from spec.swarm import swarm_spec

    leader = swarm_spec(config).leader
    if server != leader:
        return {"swarm-join.sh": swarm_join_step(config, server, parse_tokens(stand_in_tokens_output())).script}
    scripts = {"swarm-init.sh": swarm_init_step(config).script}
    for node in config.servers:
        scripts[f"swarm-node-{node}.sh"] = swarm_node_step(config, node).script
        scripts[f"swarm-leave-{node}.sh"] = swarm_leave_step(config, node).script  # the delete command
    return scripts


def write_rendered_files(config: StackConfig, spec: PlatformSpec, evaluation: Evaluation, out_dir: Path) -> list[Path]:
    written: list[Path] = []

    def write(path: Path, content: str, mode: int = 0o644) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        path.chmod(mode)
        written.append(path)

    user_data = render_user_data(config)  # one for every server
    commands = {r.name: r for r in evaluation.mocks.by_type("command:remote:Command")}
    for server in spec.servers:
        base = out_dir / server.name
        write(base / "user-data.yaml", user_data)
        host = evaluation.platform.hosts[server.name]
        for index, step in enumerate(host.step_names, start=1):
            recorded = commands[f"host-{server.name}-{step}"]
            # The step as written; on the host the app and ops steps run inside render/redacted_step.py.
            write(base / "steps" / f"{index:02d}-{step}.sh", unwrapped_script(str(recorded.inputs.get("stdin", ""))), 0o755)
        for name, script in swarm_scripts(config, server.name).items():
            write(base / "swarm" / name, script, 0o755)
        runtime = runtime_from_mocks(spec, evaluation, server.name)
        for host_path, content in sorted(server_files(config, spec, server.name, runtime).items()):
            write(base / "rootfs" / host_path.lstrip("/"), content)
    return written
