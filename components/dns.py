"""Cloudflare DNS records. pulumi_cloudflare costs ~4 s to import, so only this module imports it,
and program.py / platform.py import this module only when the stack configures DNS."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_cloudflare as cloudflare

from spec.dns_adoption import (
    ADOPTION_IGNORED_INPUTS,
    DNS_RECORD_IDS_OUTPUT,
    LETSENCRYPT,
    DnsAdoption,
    WantedRecord,
    managed_comment,
    plan_adoption,
)
from spec.resources import DnsRecordSpec, PlatformSpec

LETSENCRYPT_CAA: dict[str, Any] = {"flags": 0, "tag": "issue", "value": LETSENCRYPT}
# getDnsRecords returns at most this many records (the provider's default is 100 per page / 1000 items).
MAX_ZONE_RECORDS = 5000


def record_resource_name(prefix: str, record: DnsRecordSpec) -> str:
    return f"{prefix}-dns-{record.record_type.lower()}-{record.fqdn.replace('.', '-')}"


def _as_dict(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    return {key: getattr(record, key, None) for key in ("id", "name", "type", "content", "comment", "data")}


def dns_adoption(spec: PlatformSpec, adopt: bool, previous: pulumi.Output[dict[str, Any]]) -> pulumi.Output[DnsAdoption]:
    """The zone's records read once (no resource is registered), checked against what the stack declares."""
    assert spec.dns_zone is not None
    zone = cloudflare.get_zone_output(filter={"name": spec.dns_zone, "match": "all"})
    listed = cloudflare.get_dns_records_output(zone_id=zone.id, max_items=MAX_ZONE_RECORDS)
    wanted = [WantedRecord(record_resource_name(spec.prefix, r), r.fqdn, r.record_type) for r in spec.dns_records]

    def check(args: list[Any]) -> DnsAdoption:
        zone_id, results, outputs = args
        managed = (outputs or {}).get(DNS_RECORD_IDS_OUTPUT) or {}
        return plan_adoption(
            wanted, [_as_dict(r) for r in results or []], zone_id=str(zone_id), prefix=spec.prefix, adopt=adopt,
            managed_ids=[str(value) for value in dict(managed).values()],
        )

    return pulumi.Output.all(zone.id, listed.results, previous).apply(check)


class DnsRecords(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        spec: PlatformSpec,
        targets: dict[str, pulumi.Output[str]],
        adoption: pulumi.Output[DnsAdoption],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`targets` maps "<target>/<A|AAAA>" (e.g. "load_balancer/A") to the address to publish."""
        super().__init__("hetzner-platform:dns:DnsRecords", name, None, opts)
        assert spec.dns_zone is not None
        zone = cloudflare.get_zone_output(
            filter={"name": spec.dns_zone, "match": "all"}, opts=pulumi.InvokeOutputOptions(parent=self)
        )

        def declare(plan: DnsAdoption) -> dict[str, pulumi.Output[str]]:
            # Declared once the adoption plan is known: `import_` must be a plain value.
            ids: dict[str, pulumi.Output[str]] = {}
            for record in spec.dns_records:
                resource_name = record_resource_name(spec.prefix, record)
                imported = plan.imports.get(resource_name)
                is_caa = record.record_type == "CAA"
                ids[resource_name] = cloudflare.DnsRecord(
                    resource_name,
                    zone_id=zone.id,
                    name=record.fqdn,
                    type=record.record_type,
                    ttl=record.ttl,
                    content=None if is_caa else targets[f"{record.target}/{record.record_type}"],
                    proxied=None if is_caa else record.proxied,
                    data=cloudflare.DnsRecordDataArgs(**LETSENCRYPT_CAA) if is_caa else None,
                    comment=managed_comment(spec.prefix),
                    opts=pulumi.ResourceOptions(
                        parent=self, import_=imported, ignore_changes=ADOPTION_IGNORED_INPUTS if imported else None
                    ),
                ).id
            return ids

        self.record_ids: pulumi.Output[dict[str, str]] = adoption.apply(
            lambda plan: pulumi.Output.all(**declare(plan)) if spec.dns_records else {}
        )
        self.names = sorted({record.fqdn for record in spec.dns_records if record.record_type != "CAA"})
        self.register_outputs({"names": self.names, "recordIds": self.record_ids})
