"""One gate in front of the whole stack: refuse a change Hetzner or SSH cannot survive, before anything.

Some changes only show their damage halfway through an update, so they are checked against the LAST
deployment (the stack's own outputs, read through a StackReference to the running stack):

* a server type change that cannot be done in place (cost/resize.py);
* an SSH port or admin user change that would lock every remote command out (spec/access.py);
* a server that would move to another private address (spec/private_ips.py).

Other checks that need the last deployment join the same gate through `require` (the program's budget
and capacity guards: a server's price depends on the order date recorded in those outputs).

A StackReference's outputs are an Output, never a plain value, so the program cannot stop before it
declares resources. Instead the check is data flow: `cleared` resolves to `[]` when every change may go
ahead and raises `pulumi.RunError` (listing every problem) otherwise. The program passes it as
`depends_on` of its top-level components. A child needs its parent's URN before it can register, and a
component registers only once its dependencies resolved, so when the check fails NO resource of the
stack is registered: nothing is created, updated, replaced or deleted, and preview fails the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import pulumi
import pulumi_hcloud as hcloud

from components.resize_snapshot import before_resize_snapshot
from components.resize_steps import ResizeHooks
from config.servers import SshConfig
from cost.resize import PlannedResize, plan_resizes, refusal_message
from spec.access import access_problem
from spec.order_dates import SERVERS_OUTPUT
from spec.private_ips import private_ip_problem
from spec.resources import PlatformSpec, ServerSpec

STACK_REFERENCE_NAME = "previous-deployment"
# The stack outputs the checks compare against (both exported by components/platform.py); SERVERS_OUTPUT
# also carries each server's order date (spec/order_dates.py).
ACCESS_OUTPUT = "ssh"


# DIY backends (file, S3, ...) report this constant instead of an organization.
DIY_ORGANIZATION = "organization"


def self_stack_name() -> str:
    """The running stack's name, as a StackReference must spell it.

    Pulumi Cloud: fully qualified, because a bare name means the user's DEFAULT organization, which may
    not be the stack's. DIY backends: the bare name, which means the current project there, and is the
    only form a DIY backend created before CLI v3.61 (not yet project-scoped) accepts.
    """
    organization = pulumi.get_organization()
    if not organization or organization == DIY_ORGANIZATION:
        return pulumi.get_stack()
    return f"{organization}/{pulumi.get_project()}/{pulumi.get_stack()}"


def as_mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def planned_resizes(previous_outputs: Mapping[str, Any], servers: Mapping[str, ServerSpec]) -> dict[str, PlannedResize]:
    """The server type changes since the last deployment ({} on the first deployment), each checked."""
    return plan_resizes(servers, as_mapping(previous_outputs.get(SERVERS_OUTPUT)))


def guard_problems(
    resizes: Mapping[str, PlannedResize],
    previous_outputs: Mapping[str, Any],
    ssh: SshConfig,
    servers: Mapping[str, ServerSpec] | None = None,
) -> list[str]:
    """Every refusal for this run: the checked resizes, the SSH access and the servers' private addresses
    against the last deployment."""
    addresses = {name: server.private_ip for name, server in (servers or {}).items()}
    messages = [
        refusal_message(resizes),
        access_problem(previous_outputs.get(ACCESS_OUTPUT), ssh),
        private_ip_problem(as_mapping(previous_outputs.get(SERVERS_OUTPUT)), addresses),
    ]
    return [message for message in messages if message is not None]


class DeploymentGuard:
    """One StackReference, one check, one `cleared` gate for every resource of the stack.

    Create it before any other resource and outside the components it gates (a gated component
    cannot contain the read it waits for).
    """

    def __init__(self, spec: PlatformSpec, ssh: SshConfig, previous: pulumi.Input[Any] | None = None) -> None:
        if previous is None:
            previous = pulumi.StackReference(STACK_REFERENCE_NAME, stack_name=self_stack_name()).outputs
        self._servers = {server.name: server for server in spec.servers}
        # Server types, ports and user names are not secret even when some other stack output is.
        self.previous: pulumi.Output[dict[str, Any]] = pulumi.Output.unsecret(pulumi.Output.from_input(previous).apply(as_mapping))
        self.resizes: pulumi.Output[dict[str, PlannedResize]] = self.previous.apply(
            lambda outputs: planned_resizes(outputs, self._servers)
        )
        self._ssh = ssh
        self._checks: list[pulumi.Output[list[str]]] = []

    def add_check(self, problems: pulumi.Output[list[str]]) -> None:
        """Add a check to the gate: `problems` resolves to its refusal messages ([] lets the run go on), e.g.
        the DNS records already in the zone. Call before `options()` (the gate is built on first use)."""
        if "cleared" in self.__dict__:
            raise RuntimeError("DeploymentGuard.add_check after the gate was built")
        self._checks.append(problems)

    def require(self, problem: pulumi.Output[str | None]) -> None:
        """`add_check` for a check with one message, or None to let the run go on (budget, capacity)."""
        self.add_check(problem.apply(lambda message: [message] if message else []))

    @cached_property
    def cleared(self) -> pulumi.Output[list[pulumi.Resource]]:
        """[] when every check passed; raises pulumi.RunError listing every problem otherwise."""

        def check(args: list[Any]) -> list[pulumi.Resource]:
            outputs, resizes, *found = args
            problems = guard_problems(resizes, outputs, self._ssh, self._servers)
            problems += [problem for problems_of_check in found for problem in problems_of_check]
            if problems:
                raise pulumi.RunError("\n\n".join(problems) + "\n\nNothing was created, changed or deleted.")
            for planned in resizes.values():
                pulumi.log.info(planned.summary.text())  # cost delta and disk consequence of each resize
            return []

        return pulumi.Output.all(self.previous, self.resizes, *self._checks).apply(check)

    def options(self, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        """`opts` plus the gate: give it to every top-level component."""
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=self.cleared))

    def before_type_change(
        self, spec: ServerSpec, parent: pulumi.Resource, hooks: ResizeHooks | None, host: pulumi.Input[str]
    ) -> pulumi.Output[list[pulumi.Resource]]:
        """What the Server must wait for when its type changes: the app stopped and the server shut down
        cleanly (components/resize_steps.py), then a snapshot when snapshotBeforeResize is on."""

        def declare(resizes: dict[str, PlannedResize]) -> list[pulumi.Resource]:
            planned = resizes.get(spec.name)
            if planned is None:
                return []
            steps = hooks.before(spec, planned.old_type, host, parent) if hooks is not None else []
            if not spec.snapshot_before_resize:
                return steps
            # After the shutdown: a snapshot of a server that is off is consistent.
            created: hcloud.Snapshot = before_resize_snapshot(spec, planned.old_type, parent, depends_on=steps)
            return [*steps, created]

        # After the gate: a refused run never reaches this point, so never stops or snapshots anything.
        return pulumi.Output.all(self.cleared, self.resizes).apply(lambda args: declare(args[1]))

    def after_type_change(
        self, spec: ServerSpec, parent: pulumi.Resource, hooks: ResizeHooks | None, host: pulumi.Input[str],
        server: pulumi.Resource,
    ) -> None:
        """Start the app again once the Server's type change is done."""

        def declare(resizes: dict[str, PlannedResize]) -> None:
            planned = resizes.get(spec.name)
            if planned is not None and hooks is not None:
                hooks.after(spec, planned.old_type, host, server, parent)

        pulumi.Output.all(self.cleared, self.resizes).apply(lambda args: declare(args[1]))
