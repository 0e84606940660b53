"""Cloudflare DNS records. pulumi_cloudflare costs ~4 s to import, so only this module imports it,
and platform.py imports this module only when the stack configures DNS."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

from components.specs import DnsRecordSpec, PlatformSpec

LETSENCRYPT_CAA: dict[str, Any] = {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}


def record_resource_name(prefix: str, record: DnsRecordSpec) -> str:
    return f"{prefix}-dns-{record.record_type.lower()}-{record.fqdn.replace('.', '-')}"


class DnsRecords(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        spec: PlatformSpec,
        targets: dict[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`targets` maps "<target>/<A|AAAA>" (e.g. "load_balancer/A") to the address to publish."""
        super().__init__("hetzner-platform:dns:DnsRecords", name, None, opts)
        assert spec.dns_zone is not None
        zone = cloudflare.get_zone_output(
            filter={"name": spec.dns_zone, "match": "all"}, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.records: list[cloudflare.DnsRecord] = []
        for record in spec.dns_records:
            is_caa = record.record_type == "CAA"
            self.records.append(
                cloudflare.DnsRecord(
                    record_resource_name(spec.prefix, record),
                    zone_id=zone.id,
                    name=record.fqdn,
                    type=record.record_type,
                    ttl=record.ttl,
                    content=None if is_caa else targets[f"{record.target}/{record.record_type}"],
                    proxied=None if is_caa else record.proxied,
                    data=cloudflare.DnsRecordDataArgs(**LETSENCRYPT_CAA) if is_caa else None,
                    comment=f"managed by hetzner-platform ({spec.prefix})",
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        self.names = sorted({record.fqdn for record in spec.dns_records if record.record_type != "CAA"})
        self.register_outputs({"names": self.names})
