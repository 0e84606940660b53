"""The swarm's membership steps (app.engine swarm), scripts from render/templates/host/swarm-*.sh.

    swarm_init_step(stack)            on the first manager: `docker swarm init` on its private address,
                                      then the join tokens on one marked line (a Pulumi secret output)
    swarm_join_step(stack, server, t) on every other server: join with token t over the Docker API
    swarm_node_step(stack, server)    on the first manager: the node's labels, role, availability
    swarm_leave_step(stack, server)   on the first manager when the server leaves the stack: drain, wait,
                                      demote, remove (components/swarm.py runs it as the delete command)
"""

from __future__ import annotations

import json
import re

from config.schema import StackConfig
from render.host_script import build_step
from render.steps import HostStep
from spec.swarm import LABEL_PREFIX, MANAGER_PORT, swarm_spec

TOKENS_MARK = "hetzner-platform-swarm-tokens"
# docker --format templates, handed to the scripts as values (the bash templates hold no {{ }}).
FORMAT_STATE = "{{.Swarm.LocalNodeState}}"
FORMAT_NODE = "{{.ID}} {{.Status.Addr}} {{if .ManagerStatus}}{{.ManagerStatus.Addr}}{{end}}"
FORMAT_LABELS = "{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}"
FORMAT_ROLE = "{{.Spec.Role}}"
FORMAT_AVAILABILITY = "{{.Spec.Availability}}"
DRAIN_TIMEOUT_S = 120
_TOKEN_RE = re.compile(r"^SWMTKN-1-[a-z0-9]+-[a-z0-9]+$")


def _address_values(stack: StackConfig, server: str, *, local: bool = False) -> dict[str, str | int]:
    """The node's advertised address; `local`: the script runs on that node and checks its interface."""
    values: dict[str, str | int] = {"HP_SWARM_ADDRESS": swarm_spec(stack).node(server).private_ip, "HP_SWARM_PORT": MANAGER_PORT}
    if local:
        values["HP_SWARM_INTERFACE"] = stack.app.swarm.private_interface
    return values


def swarm_init_step(stack: StackConfig) -> HostStep:
    leader = swarm_spec(stack).leader
    values = {**_address_values(stack, leader, local=True), "HP_SWARM_TOKENS_MARK": TOKENS_MARK, "HP_FORMAT_STATE": FORMAT_STATE}
    return build_step("swarm-init", server=leader, values=values)


def stand_in_tokens_output() -> str:
    """What the plan's mocks answer for swarm-init: marked stand-ins in the form of real tokens."""
    tokens = {"worker": "SWMTKN-1-planstandin-worker", "manager": "SWMTKN-1-planstandin-manager"}
    return f"{TOKENS_MARK} {json.dumps(tokens)}\n"


def parse_tokens(stdout: str) -> dict[str, str]:
    """The join tokens from swarm-init's output: {"worker": ..., "manager": ...}."""
    for line in stdout.splitlines():
        if line.startswith(TOKENS_MARK + " "):
            tokens = json.loads(line[len(TOKENS_MARK) + 1:])
            if set(tokens) == {"worker", "manager"} and all(_TOKEN_RE.match(value) for value in tokens.values()):
                return {"worker": tokens["worker"], "manager": tokens["manager"]}
    raise ValueError("swarm-init printed no join tokens")


def swarm_join_step(stack: StackConfig, server: str, tokens: dict[str, str]) -> HostStep:
    spec = swarm_spec(stack)
    role = "manager" if spec.node(server).manager else "worker"
    token = tokens[role]
    if not _TOKEN_RE.match(token):
        raise ValueError(f"not a swarm join token for server '{server}'")
    return build_step("swarm-join", server=server, values={
        **_address_values(stack, server, local=True),
        "HP_SWARM_LEADER": spec.node(spec.leader).private_ip,
        "HP_SWARM_ROLE": role,
        "HP_SWARM_TOKEN": token,
        "HP_FORMAT_STATE": FORMAT_STATE,
    })


def swarm_node_step(stack: StackConfig, server: str) -> HostStep:
    node = swarm_spec(stack).node(server)
    return build_step("swarm-node", server=swarm_spec(stack).leader, values={
        **_address_values(stack, server),
        "HP_SWARM_ROLE": "manager" if node.manager else "worker",
        "HP_SWARM_LABELS": [f"{key}={value}" for key, value in sorted(node.labels.items())],
        "HP_SWARM_LABEL_PREFIX": LABEL_PREFIX,
        "HP_FORMAT_NODE": FORMAT_NODE,
        "HP_FORMAT_LABELS": FORMAT_LABELS,
        "HP_FORMAT_ROLE": FORMAT_ROLE,
        "HP_FORMAT_AVAILABILITY": FORMAT_AVAILABILITY,
    })


def swarm_leave_step(stack: StackConfig, server: str) -> HostStep:
    return build_step("swarm-leave", server=swarm_spec(stack).leader, values={
        **_address_values(stack, server), "HP_SWARM_DRAIN_TIMEOUT": DRAIN_TIMEOUT_S,
        "HP_FORMAT_NODE": FORMAT_NODE, "HP_FORMAT_ROLE": FORMAT_ROLE,
    })
