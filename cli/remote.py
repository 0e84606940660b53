"""`hetzner-platform ssh|logs|exec|status`: reach a stack's servers and services over SSH as the admin user
on the configured port, reading everything from the stack's outputs (`pulumi stack output --json`, or a
file of it), so nobody has to remember ports, users, addresses, compose projects or which server runs what.

The argv is built here and run with the system `ssh` (its agent, known_hosts and ~/.ssh/config apply);
`--dry-run` prints it instead. Commands run in the live release (`app.composeDir`) with `sudo docker compose`,
because the release's env file is readable by root only.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_USAGE = 0, 2


class RemoteError(Exception):
    """A problem with the outputs or the arguments, reported without a traceback (exit 2)."""


@dataclass(frozen=True)
class StackOutputs:
    values: dict[str, Any]

    def _get(self, *keys: str) -> Any:
        value: Any = self.values
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                raise RemoteError(f"the stack outputs have no {'.'.join(keys)} (run `pulumi up` with this version first)")
            value = value[key]
        return value

    @property
    def user(self) -> str:
        return str(self._get("ssh", "adminUser"))

    @property
    def port(self) -> int:
        return int(self._get("ssh", "port"))

    def address(self, server: str) -> str:
        servers = self._get("servers")
        if server not in servers:
            raise RemoteError(f"no server named '{server}' (servers: {', '.join(servers)})")
        return str(servers[server]["ipv4"])

    def servers(self) -> list[str]:
        return list(self._get("servers"))

    def hosting_servers(self) -> list[str]:
        """Servers that run at least one app service, in stack order."""
        hosting = {server for servers in self._get("app", "services").values() for server in servers}
        return [server for server in self.servers() if server in hosting]

    def service_servers(self, service: str) -> list[str]:
        services = self._get("app", "services")
        if service not in services:
            raise RemoteError(f"no service named '{service}' (services: {', '.join(services)})")
        return list(services[service])

    def compose(self) -> list[str]:
        directory = str(self._get("app", "composeDir"))
        return ["sudo", "docker", "compose", "--project-name", str(self._get("app", "composeProject")),
                "--project-directory", directory, "--file", f"{directory}/docker-compose.yml",
                "--env-file", f"{directory}/.env"]


def read_outputs(stack: str | None, outputs_file: str | None, project_dir: Path) -> StackOutputs:
    if outputs_file:
        try:
            text = Path(outputs_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise RemoteError(f"cannot read {outputs_file}: {exc.strerror}") from None
    else:
        try:
            done = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", str(stack)], cwd=project_dir,
                                  capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise RemoteError("the pulumi CLI is not installed: install it, or pass --outputs FILE") from None
        if done.returncode != 0:
            raise RemoteError(f"pulumi stack output failed: {done.stderr.strip()}")
        text = done.stdout
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RemoteError(f"the stack outputs are not JSON ({exc})") from None
    if not isinstance(values, dict):
        raise RemoteError("the stack outputs must be a JSON object")
    return StackOutputs(values)


@dataclass(frozen=True)
class Request:
    command: str  # ssh | logs | exec | status
    service: str | None = None
    server: str | None = None
    args: tuple[str, ...] = ()  # exec: the command to run (default: sh)
    identity: str | None = None
    ssh_options: tuple[str, ...] = ()  # -o KEY=VALUE for ssh (ProxyJump, known hosts files, ...)
    tty: bool = True
    follow: bool = False
    tail: int = 200
    since: str | None = None


def _ssh(outputs: StackOutputs, server: str, request: Request, remote: list[str] | None, tty: bool) -> list[str]:
    argv = ["ssh", "-p", str(outputs.port)]
    if request.identity:
        argv += ["-i", request.identity]
    for option in request.ssh_options:
        argv += ["-o", option]
    if tty:
        argv.append("-t")
    argv.append(f"{outputs.user}@{outputs.address(server)}")
    if remote:
        argv.append(shlex.join(remote))  # ssh hands one string to the remote shell
    return argv


def _server_for(outputs: StackOutputs, request: Request) -> str:
    if request.service is not None:
        candidates = outputs.service_servers(request.service)
        if request.server is not None:
            if request.server not in candidates:
                raise RemoteError(f"'{request.service}' does not run on '{request.server}' (it runs on {', '.join(candidates)})")
            return request.server
        return candidates[0]
    if request.server is not None:
        outputs.address(request.server)
        return request.server
    return outputs.servers()[0]


def build_commands(outputs: StackOutputs, request: Request) -> list[list[str]]:
    """The ssh argv (one per server for status) the request runs."""
    if request.command == "ssh":
        return [_ssh(outputs, _server_for(outputs, request), request, None, False)]
    if request.command in ("logs", "exec") and request.service is None:
        raise RemoteError(f"{request.command} needs a SERVICE")
    compose = outputs.compose()
    if request.command == "logs":
        remote = [*compose, "logs", "--timestamps", "--tail", str(request.tail)]
        if request.since:
            remote += ["--since", request.since]
        if request.follow:
            remote.append("--follow")
        remote.append(str(request.service))
        return [_ssh(outputs, _server_for(outputs, request), request, remote, False)]
    if request.command == "exec":
        remote = [*compose, "exec", *([] if request.tty else ["--no-TTY"]), str(request.service), *(request.args or ("sh",))]
        return [_ssh(outputs, _server_for(outputs, request), request, remote, request.tty)]
    if request.command == "status":
        if request.service is not None or request.server is not None:
            servers = [_server_for(outputs, request)]
        else:
            servers = outputs.hosting_servers()
        remote = [*compose, "ps", "--all", *([request.service] if request.service else [])]
        return [_ssh(outputs, server, request, remote, False) for server in servers]
    raise RemoteError(f"unknown command {request.command}")


def run_remote(request: Request, stack: str | None, outputs_file: str | None, project_dir: Path, *, dry_run: bool = False,
               out: TextIO | None = None, err: TextIO | None = None) -> int:
    # Looked up per call: a default of sys.stdout would keep whatever stream was current at import.
    out, err = out or sys.stdout, err or sys.stderr
    try:
        outputs = read_outputs(stack, outputs_file, project_dir)
        commands = build_commands(outputs, request)
    except RemoteError as error:
        print(f"hetzner-platform {request.command}: {error}", file=err)
        return EXIT_USAGE
    worst = EXIT_OK
    for argv in commands:
        if dry_run:
            print(shlex.join(argv), file=out)
            continue
        if len(commands) > 1:
            print(f"== {argv[-2]}", file=out, flush=True)
        worst = max(worst, subprocess.run(argv).returncode)
    return worst
