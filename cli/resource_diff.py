"""Resources with their inputs in `plan --json`, and the resource diff `plan --compare` shows.

`plan_resources` lists every cloud resource the offline evaluation registered with its inputs: values
Pulumi marked secret become SECRET_MASK, long strings (step scripts) become a short digest line, so the
document stays readable and a change still shows. `resource_diff` compares two such lists: added,
removed, and changed resources with the inputs that changed, marking the ones that REPLACE the resource.

Replacement comes from the providers' schemas: an input marked ForceNew / RequiresReplace (Terraform
providers behind pulumi-hcloud and pulumi-cloudflare) or replaceOnChanges (pulumi-command). The table
holds those inputs for the resource types this program creates, in Pulumi's camelCase spelling:
- hcloud: github.com/hetznercloud/terraform-provider-hcloud internal/*/resource*.go (read at f81c9af,
  2026-08-17): server/resource.go image, location, ssh_keys, user_data; primaryip type, location;
  volume location; volume/resource_attachment.go server_id, volume_id; server/resource_network.go ip,
  network_id, server_id, subnet_id; network ip_range; network/resource_subnet.go ip_range, network_id,
  network_zone, type; loadbalancer location, network_zone; resource_network.go ip, load_balancer_id,
  network_id, subnet_id; resource_service.go listen_port, load_balancer_id, protocol; resource_target.go
  ip, label_selector, load_balancer_id, server_id; floatingip type, home_location;
  resource_assignment.go floating_ip_id; rdns floating_ip_id, ip_address, load_balancer_id,
  primary_ip_id, server_id; sshkey public_key; snapshot server_id.
- cloudflare: github.com/cloudflare/terraform-provider-cloudflare internal/services/dns_record/schema.go:
  zone_id (RequiresReplace).
- pulumi-command: github.com/pulumi/pulumi-command provider/pkg/provider/{remote,local}: triggers
  (`provider:"replaceOnChanges"`).
Inputs the program tells Pulumi to ignore (ignore_changes) never replace anything: IGNORED_INPUTS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SECRET_MASK = "[secret]"
LONG_STRING = 240

REPLACE_ON: dict[str, frozenset[str]] = {
    "hcloud:index/server:Server": frozenset({"image", "location", "sshKeys", "userData"}),
    "hcloud:index/primaryIp:PrimaryIp": frozenset({"type", "location"}),
    "hcloud:index/volume:Volume": frozenset({"location"}),
    "hcloud:index/volumeAttachment:VolumeAttachment": frozenset({"serverId", "volumeId"}),
    "hcloud:index/serverNetwork:ServerNetwork": frozenset({"ip", "networkId", "serverId", "subnetId"}),
    "hcloud:index/network:Network": frozenset({"ipRange"}),
    "hcloud:index/networkSubnet:NetworkSubnet": frozenset({"ipRange", "networkId", "networkZone", "type"}),
    "hcloud:index/loadBalancer:LoadBalancer": frozenset({"location", "networkZone"}),
    "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork": frozenset({"ip", "loadBalancerId", "networkId", "subnetId"}),
    "hcloud:index/loadBalancerService:LoadBalancerService": frozenset({"listenPort", "loadBalancerId", "protocol"}),
    "hcloud:index/loadBalancerTarget:LoadBalancerTarget": frozenset({"ip", "labelSelector", "loadBalancerId", "serverId"}),
    "hcloud:index/floatingIp:FloatingIp": frozenset({"type", "homeLocation"}),
    "hcloud:index/floatingIpAssignment:FloatingIpAssignment": frozenset({"floatingIpId"}),
    "hcloud:index/rdns:Rdns": frozenset({"floatingIpId", "ipAddress", "loadBalancerId", "primaryIpId", "serverId"}),
    "hcloud:index/sshKey:SshKey": frozenset({"publicKey"}),
    "hcloud:index/snapshot:Snapshot": frozenset({"serverId"}),
    "cloudflare:index/dnsRecord:DnsRecord": frozenset({"zoneId"}),
    "command:remote:Command": frozenset({"triggers"}),
    "command:local:Command": frozenset({"triggers"}),
}
# components/servers.py: ignore_changes=["ssh_keys", "user_data", "placement_group_id"].
IGNORED_INPUTS: dict[str, frozenset[str]] = {
    "hcloud:index/server:Server": frozenset({"sshKeys", "userData", "placementGroupId"}),
}


def _path_parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if name:
            parts.append(name)
        parts += [int(index) for index in indexes]
    return parts


def _mask(value: Any, parts: list[str | int]) -> Any:
    if not parts:
        return SECRET_MASK
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict) and isinstance(head, str) and head in value:
        return {**value, head: _mask(value[head], rest)}
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        return [*value[:head], _mask(value[head], rest), *value[head + 1:]]
    return value


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LONG_STRING:
        digest = hashlib.sha256(value.encode()).hexdigest()[:16]
        return f"<{len(value)} characters, sha256 {digest}>"
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shorten(item) for item in value]
    return value


def masked_inputs(inputs: Mapping[str, Any], secret_paths: Iterable[str]) -> dict[str, Any]:
    """The inputs with every secret value masked (before shortening, so no digest of a secret is shown)."""
    masked: Any = dict(inputs)
    for path in secret_paths:
        masked = SECRET_MASK if path == "(root)" else _mask(masked, _path_parts(path))
    return dict(_shorten(masked)) if isinstance(masked, dict) else {}


def plan_resources(resources: Iterable[Any]) -> list[dict[str, Any]]:
    """`plan --json`'s resource list: type, name and masked inputs, sorted by (type, name)."""
    return [
        {"type": r.type, "name": r.name, "inputs": masked_inputs(r.inputs, r.secret_paths)}
        for r in sorted(resources, key=lambda r: (r.type, r.name))
    ]


@dataclass(frozen=True)
class ResourceChange:
    type: str
    name: str
    changed: tuple[str, ...]  # top-level inputs that differ
    replaces: tuple[str, ...]  # those of them that force a replacement
    ignored: tuple[str, ...]  # those the program ignores (no effect on the running resource)

    @property
    def action(self) -> str:
        if self.replaces:
            return "replace"
        return "no-op (ignored inputs)" if set(self.changed) == set(self.ignored) else "update"


def resource_diff(base: Iterable[Mapping[str, Any]], head: Iterable[Mapping[str, Any]]) -> list[ResourceChange]:
    """Resources present in both documents whose inputs differ. Documents without inputs compare equal."""
    old = {(str(r.get("type")), str(r.get("name"))): r.get("inputs") for r in base}
    changes: list[ResourceChange] = []
    for resource in head:
        key = (str(resource.get("type")), str(resource.get("name")))
        before, after = old.get(key), resource.get("inputs")
        if key not in old or not isinstance(before, Mapping) or not isinstance(after, Mapping):
            continue
        changed = tuple(sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name)))
        if not changed:
            continue
        ignored = tuple(name for name in changed if name in IGNORED_INPUTS.get(key[0], frozenset()))
        replaces = tuple(name for name in changed if name in REPLACE_ON.get(key[0], frozenset()) and name not in ignored)
        changes.append(ResourceChange(key[0], key[1], changed, replaces, ignored))
    return sorted(changes, key=lambda change: (change.type, change.name))
