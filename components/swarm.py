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
        spec = swarm_spec(config)
        leader = spec.leader

        def connection(server: str) -> remote.ConnectionArgs:
            return ssh_connection(config, hosts[server], private_key)

        init_step = swarm_init_step(config)
        self.init = remote.Command(
            f"{name}-init",
            connection=connection(leader),
            create=REMOTE_SHELL,
            stdin=init_step.script,
            triggers=[server_ids[leader]],
            logging=remote.Logging.NONE,
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after[leader]), additional_secret_outputs=["stdout", "stderr"]),
        )
        stdout: pulumi.Output[str] = pulumi.Output.secret(self.init.stdout)
        tokens = stdout.apply(parse_tokens)
        self.nodes: dict[str, remote.Command] = {}
        for node in spec.nodes:
            member: pulumi.Resource = self.init
            if node.server != leader:
                script: pulumi.Output[str] = tokens.apply(_join_script(config, node.server))
                member = remote.Command(
                    f"{name}-join-{node.server}",
                    connection=connection(node.server),
                    create=REMOTE_SHELL,
                    stdin=script,  # secret: made from the secret tokens
                    triggers=[server_ids[node.server]],
                    logging=remote.Logging.NONE,
                    add_previous_output_in_env=False,
                    opts=pulumi.ResourceOptions(
                        parent=self, depends_on=[self.init, *after[node.server]], additional_secret_outputs=["stdout", "stderr"]
                    ),
                )
            self.nodes[node.server] = remote.Command(
                f"{name}-node-{node.server}",
                connection=connection(leader),
                create=REMOTE_SHELL,
                update=REMOTE_SHELL,  # new labels are an update, never a replacement (which would drain)
                stdin=swarm_node_step(config, node.server).script,
                delete=leave_command(config, node.server),
                triggers=[server_ids[node.server]],
                logging=remote.Logging.STDOUT_AND_STDERR,
                add_previous_output_in_env=False,
                # A replaced server: drain and remove its old node first, then label the new one.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[member], delete_before_replace=True),
            )
        self.register_outputs({"leader": leader, "nodes": list(self.nodes)})
