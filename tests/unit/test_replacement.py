"""Hetzner names are unique per project: a named resource must be replaced delete-first, or the
replacement's create fails on the name the old resource still holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from tests.stacks import PHASE2, evaluate_values


def test_every_named_hetzner_resource_is_replaced_delete_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[tuple[str, str, dict[str, Any], pulumi.ResourceOptions | None]] = []
    original = pulumi.CustomResource.__init__

    def recording_init(self: pulumi.CustomResource, t: str, name: str, props: Any = None,
                       opts: pulumi.ResourceOptions | None = None, *args: Any, **kwargs: Any) -> None:
        # Generated resources pass their inputs as an *Args object whose __dict__ holds them.
        inputs = props if isinstance(props, dict) else vars(props) if props is not None else {}
        created.append((t, name, dict(inputs), opts))
        original(self, t, name, props, opts, *args, **kwargs)

    monkeypatch.setattr(pulumi.CustomResource, "__init__", recording_init)
    evaluate_values(tmp_path, PHASE2)  # servers, placement group, network, volume, LB, floating IP, firewall, keys

    named = [(t, name, opts) for t, name, props, opts in created if t.startswith("hcloud:") and props.get("name")]
    assert {t.split(":")[-1] for t, _, _ in named} >= {
        "Server", "PrimaryIp", "PlacementGroup", "Network", "Volume", "LoadBalancer", "FloatingIp", "Firewall", "SshKey",
    }
    create_first = [f"{t} {name}" for t, name, opts in named if not (opts and opts.delete_before_replace)]
    assert create_first == []
    # The server keeps its other options alongside.
    [server_opts] = [opts for t, name, opts in named if t.endswith(":Server") and name.endswith("-web")]
    assert server_opts is not None and server_opts.ignore_changes == ["ssh_keys", "user_data", "placement_group_id"]
