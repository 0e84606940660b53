"""Pulumi mocks standing in for the Hetzner and Cloudflare APIs during the offline plan and tests.

They record every resource the real program registers and answer with deterministic ids and
addresses from the documentation ranges (RFC 5737 / RFC 3849), so two evaluations of the same config
produce identical inputs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi

from render.swarm_host import TOKENS_MARK, stand_in_tokens_output

# Pulumi wraps secret values in inputs with this signature key.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"


@dataclass
class RecordedResource:
    type: str
    name: str
    inputs: dict[str, Any]  # secret wrappers removed
    id: str
    custom: bool
    outputs: dict[str, Any]
    secret_paths: tuple[str, ...]  # input paths that Pulumi marked secret


def unwrap_secrets(value: Any, path: str = "", found: list[str] | None = None) -> tuple[Any, list[str]]:
    found = [] if found is None else found
    if isinstance(value, dict):
        if SECRET_SIG_KEY in value:
            found.append(path or "(root)")
            return unwrap_secrets(value.get("value"), path, found)[0], found
        return {k: unwrap_secrets(v, f"{path}.{k}" if path else k, found)[0] for k, v in value.items()}, found
    if isinstance(value, list):
        return [unwrap_secrets(v, f"{path}[{i}]", found)[0] for i, v in enumerate(value)], found
    return value, found


def stable_number(*parts: str, modulo: int) -> int:
    """A number fixed by the resource's type and name: registration order is async and varies."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return int(digest[:12], 16) % modulo


def _disk_gb(server_type: Any) -> int:
    from config.catalogue import load_catalogue

    known = load_catalogue().server_types.get(str(server_type))
    return known.disk_gb if known is not None else 80


class RecordingMocks(pulumi.runtime.Mocks):
    """`previous_outputs`: what the StackReference the deployment guard reads answers, i.e. the stack's
    outputs of its last deployment (`plan --previous`); {} is a stack never deployed."""

    def __init__(self, previous_outputs: dict[str, Any] | None = None) -> None:
        self.resources: list[RecordedResource] = []
        self.previous_outputs: dict[str, Any] = dict(previous_outputs or {})

    def _outputs_for(self, typ: str, name: str, inputs: dict[str, Any], resource_id: str) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        octet = 1 + stable_number(typ, name, "v4", modulo=254)
        v6 = f"2001:db8:{stable_number(typ, name, 'v6', modulo=0xFFFF):x}::"
        if typ == "hcloud:index/primaryIp:PrimaryIp":
            if inputs.get("type") == "ipv6":
                outputs["ipAddress"] = f"{v6}1"
                outputs["ipNetwork"] = f"{v6}/64"
            else:
                outputs["ipAddress"] = f"203.0.113.{octet}"
        elif typ == "hcloud:index/server:Server":
            # A new server's disk is its type's disk (the resize guard reads it back as `diskGb`).
            outputs |= {"ipv6Address": f"{v6}1", "status": "running", "primaryDiskSize": _disk_gb(inputs.get("serverType"))}
        elif typ == "hcloud:index/loadBalancer:LoadBalancer":
            outputs |= {"ipv4": f"198.51.100.{octet}", "ipv6": f"{v6}1"}
        elif typ == "hcloud:index/floatingIp:FloatingIp":
            outputs["ipAddress"] = f"192.0.2.{octet}" if inputs.get("type") == "ipv4" else v6
        elif typ == "hcloud:index/volume:Volume":
            outputs["linuxDevice"] = f"/dev/disk/by-id/scsi-0HC_Volume_{resource_id}"
        elif typ == "hcloud:index/sshKey:SshKey":
            outputs["fingerprint"] = f"mock:{resource_id}"
        elif typ == "random:index/randomPassword:RandomPassword":
            # A marked stand-in: the plan shows where a generated password goes, never a usable one.
            outputs["result"] = f"<generated {name}>"
        elif typ == "command:remote:Command":
            outputs |= {"stdout": "", "stderr": ""}
            if TOKENS_MARK in str(inputs.get("stdin", "")):
                outputs["stdout"] = stand_in_tokens_output()  # the swarm's join tokens (components/swarm.py)
        return outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id = str(100000 + stable_number(args.typ, args.name, modulo=900000))
        if args.typ == "hcloud:index/networkSubnet:NetworkSubnet":
            # Real subnet ids look like "<networkId>-<ipRange>" and must never be int()-ed.
            network_id, _ = unwrap_secrets(args.inputs.get("networkId"))
            resource_id = f"{int(float(network_id))}-{args.inputs.get('ipRange')}"
        inputs, secret_paths = unwrap_secrets(dict(args.inputs))
        outputs = {**args.inputs, **self._outputs_for(args.typ, args.name, inputs, resource_id)}
        if args.typ == "pulumi:pulumi:StackReference":
            outputs = {"name": args.inputs.get("name"), "outputs": self.previous_outputs, "secretOutputNames": []}
        self.resources.append(
            RecordedResource(args.typ, args.name, inputs, resource_id, bool(args.custom), outputs, tuple(secret_paths))
        )
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "cloudflare:index/getZone:getZone":
            name = (args.args.get("filter") or {}).get("name", "example.com")
            zone_id = f"zone-{name.replace('.', '-')}"
            # Invoke results must use camelCase wire keys.
            return {"id": zone_id, "zoneId": zone_id, "name": name, "status": "active"}, []
        return {}, []

    def custom_resources(self) -> list[RecordedResource]:
        return [r for r in self.resources if r.custom and not r.type.startswith("pulumi:providers:")]

    def by_type(self, typ: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == typ]
