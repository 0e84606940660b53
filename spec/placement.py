"""Which spread placement group each server belongs to, so that no running server changes group.

Hetzner puts a server into a placement group only without trouble at creation: the provider adds a
running server with "add to placement group", which the API refuses (`server_not_stopped`), and it
refuses to remove a running server itself ("removing a running server from a placement group is currently
not supported"; terraform-provider-hcloud internal/server/resource.go, setPlacementGroup; pulumi-hcloud's
docstring: "Placement Group ID the server added to on creation"). A spread group holds at most 10 servers
(Hetzner docs, https://docs.hetzner.com/cloud/placement-groups/overview).

So a server keeps the group it was created with (the last deployment's `servers.<name>.placementGroup`
output), and only a NEW server of a stack with several servers joins a group: the first one with room,
`<prefix>-spread`, then `<prefix>-spread-2`, ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SPREAD_GROUP_CAPACITY = 10
PLACEMENT_OUTPUT_KEY = "placementGroup"  # in each entry of the `servers` stack output


def group_name(prefix: str, number: int) -> str:
    """The first group keeps the name it always had, so existing stacks keep their group."""
    return f"{prefix}-spread" if number == 1 else f"{prefix}-spread-{number}"


def _previous_group(prefix: str, entry: Any, previous_count: int) -> str | None:
    if isinstance(entry, Mapping) and PLACEMENT_OUTPUT_KEY in entry:
        value = entry[PLACEMENT_OUTPUT_KEY]
        return value if isinstance(value, str) and value else None
    # Deployed before the output existed: then every server of a multi-server stack was in the one group.
    return group_name(prefix, 1) if previous_count > 1 else None


def assign_placement_groups(prefix: str, servers: Sequence[str], previous_servers: Mapping[str, Any] | None) -> dict[str, str | None]:
    """{server: group name or None} for the servers of this run, in name order."""
    previous = dict(previous_servers or {})
    assigned: dict[str, str | None] = {}
    for name in sorted(servers):
        if name in previous:
            assigned[name] = _previous_group(prefix, previous[name], len(previous))
    if len(servers) > 1:
        members: dict[str, int] = {}
        for group in assigned.values():
            if group is not None:
                members[group] = members.get(group, 0) + 1
        for name in sorted(servers):
            if name in assigned:
                continue
            number = 1
            while members.get(group_name(prefix, number), 0) >= SPREAD_GROUP_CAPACITY:
                number += 1
            group = group_name(prefix, number)
            assigned[name] = group
            members[group] = members.get(group, 0) + 1
    return {name: assigned.get(name) for name in sorted(servers)}


def groups_in_use(assignment: Mapping[str, str | None]) -> list[str]:
    return sorted({group for group in assignment.values() if group is not None})
