"""Options for Hetzner resources that carry a fixed name.

Hetzner names are unique per project, and Pulumi replaces a resource by creating the new one before
deleting the old one. With a fixed name the create fails ("name is already used"), so every named
resource is replaced delete-first. In prod, delete protection still stops a replacement that would
delete a server, volume, IP or load balancer; Hetzner's error then names the resource.
"""

from __future__ import annotations

import pulumi


def fixed_name_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
    """`opts` for a resource with a fixed Hetzner name: parented to `parent` and replaced delete-first
    (delete_before_replace), merged with `opts`."""
    return pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent, delete_before_replace=True), opts)
