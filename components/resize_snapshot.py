"""The snapshot taken before a server's type changes (`servers.<name>.snapshotBeforeResize`).

The Server depends on it, so the type change starts only once the snapshot exists; the deployment guard
(components/deployment_guard.py) creates it for each planned resize (cost/resize.py).
"""

from __future__ import annotations

import pulumi
import pulumi_hcloud as hcloud

from spec.resources import ServerSpec


def before_resize_snapshot(
    spec: ServerSpec, old_type: str, parent: pulumi.Resource | None, depends_on: list[pulumi.Resource] | None = None
) -> hcloud.Snapshot:
    """A snapshot of the running server, taken before its type changes.

    Its id comes from a lookup by name: the Server resource itself must wait for the snapshot, so the
    snapshot cannot take the Server's id. retain_on_delete: once the next run no longer declares it,
    it leaves the state but stays in Hetzner until deleted by hand (billed per GB meanwhile).
    """
    current = hcloud.get_server_output(name=spec.resource_name, opts=pulumi.InvokeOutputOptions(parent=parent))
    return hcloud.Snapshot(
        f"{spec.resource_name}-before-{old_type}-to-{spec.server_type}",
        server_id=current.id.apply(int),
        description=f"{spec.resource_name} before resize {old_type} -> {spec.server_type} (hetzner-platform)",
        labels={**spec.labels, "purpose": "before-resize"},
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True, depends_on=depends_on or []),
    )
