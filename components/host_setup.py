"""The remote command chain that turns a bare server into the configured host.

One pulumi_command remote.Command per step (wait, base, ssh, firewall, ..., app, ops), in order, each
depending on the one before. A step's script travels on stdin to `sudo bash -s`, so nothing (least of
all a secret) is on a command line. Its trigger is the server id plus the hash of exactly that script:
a change re-runs only the steps whose script changed, and no change re-runs nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from config.schema import StackConfig
from config.stack_file import value_placeholder
from render.redacted_step import redacting_wrapper
from render.steps import HostRuntime, HostStep, runtime_fields

# A renderer takes the config, the server name, runtime values and secret values, and returns steps.
StepRenderer = Callable[[StackConfig, str, HostRuntime, Mapping[str, str]], Sequence[HostStep]]

REMOTE_SHELL = "sudo bash -s"
# A fresh server refuses SSH until cloud-init has upgraded packages and moved sshd to its port, which can
# take far longer than the ~2.7 minutes 40 refused dials last. pulumi-command counts failed dials against
# dial_error_limit (-1 = unlimited) and retries with pulumi's backoff, 100 ms x 1.5 capped at 5 s
# (github.com/pulumi/pulumi-command provider/pkg/provider/remote/connection.go, reachedDialingErrorLimit;
# github.com/pulumi/pulumi sdk/go/common/util/retry/until.go). A refused dial returns at once, so
# N dials last about 11 s + (N - 10) x 5 s: 200 dials wait ~16 minutes for a slow first boot, and a server
# that never answers still fails the run instead of hanging it forever (what -1 would do). Each dial
# gives up after PER_DIAL_TIMEOUT_S (the provider shortens it by 15 s per failure, down to 15 s) so a
# silently dropped SYN cannot stall a step.
DIAL_ERROR_LIMIT = 200
PER_DIAL_TIMEOUT_S = 30


@dataclass(frozen=True)
class StepSource:
    """A renderer and whether its scripts embed secret values (then their stdin is a Pulumi secret)."""

    render: StepRenderer
    uses_secrets: bool = False


@dataclass(frozen=True)
class RuntimeInputs:
    """One server's HostRuntime as separate Outputs, so each step waits only for the values it reads."""

    volume_ids: pulumi.Input[dict[str, int]]
    floating_ip: pulumi.Input[str | None]
    private_ip: str | None  # from the config: always known

    def for_fields(self, fields: frozenset[str]) -> pulumi.Output[HostRuntime]:
        volume_ids = self.volume_ids if "volume_ids" in fields else {}
        floating_ip = self.floating_ip if "floating_ip" in fields else None

        def build(args: list[object]) -> HostRuntime:
            ids, address = args
            assert isinstance(ids, dict) and (address is None or isinstance(address, str))
            return HostRuntime(volume_ids=dict(ids), floating_ip=address, private_ip=self.private_ip)

        return pulumi.Output.all(volume_ids, floating_ip).apply(build)


def ssh_connection(config: StackConfig, host: pulumi.Input[str], private_key: pulumi.Input[str]) -> remote.ConnectionArgs:
    """How every remote command of the stack reaches a server."""
    return remote.ConnectionArgs(
        host=host,
        port=config.ssh.port,
        user=config.ssh.admin_user,
        private_key=private_key,
        dial_error_limit=DIAL_ERROR_LIMIT,
        per_dial_timeout=PER_DIAL_TIMEOUT_S,
    )


def step_names(config: StackConfig, server: str, sources: Sequence[StepSource], secret_names: Sequence[str]) -> list[str]:
    """Step names are fixed by the config alone, so resources can be declared before any id is known."""
    placeholders = {name: value_placeholder(name) for name in secret_names}
    return [step.name for source in sources for step in source.render(config, server, HostRuntime(), placeholders)]


class HostConfiguration(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        server: str,
        *,
        host: pulumi.Input[str],
        server_id: pulumi.Output[int],
        private_key: pulumi.Output[str],
        runtime: RuntimeInputs,
        secrets: Mapping[str, pulumi.Output[str]],
        sources: Sequence[StepSource],
        depends_on: Sequence[pulumi.Resource] = (),
        step_after: Mapping[str, Sequence[pulumi.Resource]] | None = None,
        before_step: Callable[[str, Sequence[pulumi.Resource]], Sequence[pulumi.Resource]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:host:HostConfiguration", name, None, opts)
        self._config, self._server, self._runtime = config, server, runtime
        self._secret_names = sorted(secrets)
        self._secret_values = pulumi.Output.all(*[secrets[key] for key in self._secret_names])
        connection = ssh_connection(config, host, private_key)
        self.commands: dict[str, remote.Command] = {}
        previous: list[pulumi.Resource] = list(depends_on)
        for source in sources:
            # One rendering per distinct set of runtime fields (most steps read none of them).
            renderings: dict[frozenset[str], pulumi.Output[dict[str, HostStep]]] = {}
            for step_name in step_names(config, server, [source], self._secret_names):
                fields = runtime_fields(step_name)
                if fields not in renderings:
                    renderings[fields] = self._render_source(source, fields)
                step = renderings[fields].apply(lambda steps, n=step_name: steps[n])  # type: ignore[misc]
                # Resources made just before this step, after the ones before it (the swarm's membership).
                made_before = before_step(step_name, previous) if before_step is not None else ()
                # Besides its predecessor, a step may wait for steps on other servers (the app on web
                # servers waits for the database server's app step).
                after = [*previous, *(step_after or {}).get(step_name, ()), *made_before]
                command = self._step_command(f"{name}-{step_name}", step, source, connection, server_id, after)
                self.commands[step_name] = command
                previous = [command]
        self.step_names = list(self.commands)
        self.register_outputs({"steps": self.step_names})

    def _render_source(self, source: StepSource, fields: frozenset[str]) -> pulumi.Output[dict[str, HostStep]]:
        """The steps of one source, rendered once the runtime `fields` (and secrets, if it uses them) are known."""
        config, server, secret_names = self._config, self._server, self._secret_names

        def render(args: list[object]) -> dict[str, HostStep]:
            runtime_value, values = args
            assert isinstance(runtime_value, HostRuntime) and isinstance(values, list)
            resolved = dict(zip(secret_names, (str(v) for v in values), strict=True)) if source.uses_secrets else {}
            steps = {step.name: step for step in source.render(config, server, runtime_value, resolved)}
            if not source.uses_secrets:
                return steps
            # A failing command's error carries its whole output: keep secrets out of it.
            return {
                name: dataclasses.replace(step, script=redacting_wrapper(name, step.script, resolved.values()))
                for name, step in steps.items()
            }

        # Only sources that use secrets depend on them, so only their scripts become secret.
        inputs = pulumi.Output.all(
            self._runtime.for_fields(fields), self._secret_values if source.uses_secrets else pulumi.Output.from_input([])
        )
        return inputs.apply(render)

    def _step_command(
        self,
        resource_name: str,
        step: pulumi.Output[HostStep],
        source: StepSource,
        connection: remote.ConnectionArgs,
        server_id: pulumi.Output[int],
        after: Sequence[pulumi.Resource],
    ) -> remote.Command:
        """One step as a remote command: its script on stdin, re-run when the server or the script changes."""
        return remote.Command(
            resource_name,
            connection=connection,
            create=REMOTE_SHELL,
            stdin=step.apply(lambda s: s.script),
            triggers=[server_id, step.apply(lambda s: s.digest)],
            # Steps that embed secrets keep their output out of logs and plain state: a failing
            # migration or compose command could echo a value.
            logging=remote.Logging.NONE if source.uses_secrets else remote.Logging.STDOUT_AND_STDERR,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(after),
                additional_secret_outputs=["stdout", "stderr"] if source.uses_secrets else None,
            ),
        )
