"""The swarm's membership as remote commands (app.engine swarm): init, joins, node labels, leaving.

    swarm-init            on the first manager, after its host steps; its stdout carries the join
                          tokens, so it is a secret output and its logging is off
    swarm-join-<server>   on every other server, after its own steps; the token is inside the script
                          on stdin (a secret input), never on a command line
    swarm-node-<server>   on the first manager: labels/role/availability of that node. Its delete
                          command drains the node, waits for its tasks to move, demotes and removes it:
                          Pulumi deletes it before the server it depends on, so a server that leaves the
                          stack leaves the swarm first (render/templates/host/swarm-leave.sh).
The first manager's app step (the stack deploy) waits for every swarm-node command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pulumi
from pulumi_command import remote

from components.host_setup import REMOTE_SHELL, ssh_connection
from config.schema import StackConfig
from render.swarm_host import parse_tokens, swarm_init_step, swarm_join_step, swarm_leave_step, swarm_node_step
from spec.swarm import swarm_spec

LEAVE_DELIMITER = "HP_SWARM_LEAVE"


def leave_command(config: StackConfig, server: str) -> str:
    """The delete command: the leave script as a heredoc (it holds no secret)."""
    script = swarm_leave_step(config, server).script
    if LEAVE_DELIMITER in script:
        raise ValueError("the leave script contains its own heredoc delimiter")
    return f"{REMOTE_SHELL} <<'{LEAVE_DELIMITER}'\n{script}{LEAVE_DELIMITER}\n"


def _join_script(config: StackConfig, server: str) -> Callable[[dict[str, str]], str]:
    return lambda tokens: swarm_join_step(config, server, tokens).script


class SwarmCluster(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        *,
        hosts: Mapping[str, pulumi.Input[str]],
        server_ids: Mapping[str, pulumi.Output[int]],
        private_key: pulumi.Output[str],
        after: Mapping[str, Sequence[pulumi.Resource]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:swarm:SwarmCluster", name, None, opts)
        self._name, self._config, self._server_ids = name, config, server_ids
        spec = swarm_spec(config)
        leader = spec.leader

        def connection(server: str) -> remote.ConnectionArgs:
            return ssh_connection(config, hosts[server], private_key)

        self.init = self._init_command(connection(leader), leader, after[leader])
        stdout: pulumi.Output[str] = pulumi.Output.secret(self.init.stdout)
        tokens = stdout.apply(parse_tokens)
        self.nodes: dict[str, remote.Command] = {}
        for node in spec.nodes:
            member: pulumi.Resource = self.init
            if node.server != leader:
                member = self._join_command(connection(node.server), node.server, tokens, after[node.server])
            self.nodes[node.server] = self._node_command(connection(leader), node.server, member)
        self.register_outputs({"leader": leader, "nodes": list(self.nodes)})

    def _init_command(
        self, connection: remote.ConnectionArgs, leader: str, after: Sequence[pulumi.Resource]
    ) -> remote.Command:
        """`swarm init` on the first manager; its stdout carries the join tokens, so it is secret."""
        return remote.Command(
            f"{self._name}-init",
            connection=connection,
            create=REMOTE_SHELL,
            stdin=swarm_init_step(self._config).script,
            triggers=[self._server_ids[leader]],
            logging=remote.Logging.NONE,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after), additional_secret_outputs=["stdout", "stderr"]),
        )

    def _join_command(
        self, connection: remote.ConnectionArgs, server: str, tokens: pulumi.Output[dict[str, str]],
        after: Sequence[pulumi.Resource],
    ) -> remote.Command:
        """`swarm join` on `server`, with the token inside the script on stdin."""
        script: pulumi.Output[str] = tokens.apply(_join_script(self._config, server))
        return remote.Command(
            f"{self._name}-join-{server}",
            connection=connection,
            create=REMOTE_SHELL,
            stdin=script,  # secret: made from the secret tokens
            triggers=[self._server_ids[server]],
            logging=remote.Logging.NONE,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.init, *after], additional_secret_outputs=["stdout", "stderr"]
            ),
        )

    def _node_command(self, connection: remote.ConnectionArgs, server: str, member: pulumi.Resource) -> remote.Command:
        """On the first manager: `server`'s node labels, role and availability; deleting it makes the node leave."""
        return remote.Command(
            f"{self._name}-node-{server}",
            connection=connection,
            create=REMOTE_SHELL,
            update=REMOTE_SHELL,  # new labels are an update, never a replacement (which would drain)
            stdin=swarm_node_step(self._config, server).script,
            delete=leave_command(self._config, server),
            triggers=[self._server_ids[server]],
            logging=remote.Logging.STDOUT_AND_STDERR,
            add_previous_output_in_env=False,
            # A replaced server: drain and remove its old node first, then label the new one.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[member], delete_before_replace=True),
        )
