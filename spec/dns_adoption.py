"""Records that already exist in the Cloudflare zone: adopted on request, otherwise refused by name.

Creating a record where the zone already has one of the same name fails or splits traffic: a CNAME
blocks any other record at its name (Cloudflare error 81053, terraform-provider-cloudflare#1247), and an
apex A record that is already there stays next to the new one, so half the visitors reach the old host.
So before anything is created the deployment guard lists the zone's records and, for each record this
stack declares:

* a record this stack already manages (its id is in the last deployment's `dnsRecordIds` output, or it
  carries this stack's comment) is left to Pulumi;
* a CNAME at the name of an A/AAAA record is refused: it must be deleted by hand (the two cannot coexist,
  and an adopted CNAME could not become an A record without a delete-first replacement);
* any other record of the same name and type is refused, naming it, unless `dns.adoptExisting: true`:
  then it is adopted with Pulumi's `import` resource option (id "<zone_id>/<record_id>", the provider's
  documented import id). Pulumi refuses an import whose inputs differ from the record, so the adopting run
  ignores content, proxied, ttl and comment (`ADOPTION_IGNORED_INPUTS`); the next `pulumi up` updates them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DNS_RECORD_IDS_OUTPUT = "dnsRecordIds"
ADOPTION_IGNORED_INPUTS = ["content", "proxied", "ttl", "comment", "data"]
LETSENCRYPT = "letsencrypt.org"


@dataclass(frozen=True)
class WantedRecord:
    resource_name: str
    fqdn: str
    record_type: str


@dataclass(frozen=True)
class DnsAdoption:
    imports: dict[str, str] = field(default_factory=dict)  # resource name -> "<zone_id>/<record_id>"
    problems: tuple[str, ...] = ()


def managed_comment(prefix: str) -> str:
    return f"managed by hetzner-platform ({prefix})"


def plan_adoption(
    wanted: Sequence[WantedRecord],
    existing: Iterable[Mapping[str, Any]],
    *,
    zone_id: str,
    prefix: str,
    adopt: bool,
    managed_ids: Iterable[str] = (),
) -> DnsAdoption:
    """`existing`: the zone's records as the Cloudflare API lists them (id, name, type, content, comment)."""
    ours = set(managed_ids)
    foreign = [
        record for record in existing
        if str(record.get("id")) not in ours and record.get("comment") != managed_comment(prefix)
    ]
    imports: dict[str, str] = {}
    problems: list[str] = []
    for record in wanted:
        same_name = [r for r in foreign if str(r.get("name", "")).lower().rstrip(".") == record.fqdn]
        cnames = [r for r in same_name if r.get("type") == "CNAME"]
        if record.record_type in ("A", "AAAA") and cnames:
            problem = (
                f"dns: {record.fqdn} is a CNAME to {cnames[0].get('content')} in Cloudflare, and no A/AAAA record "
                f"can sit next to a CNAME (error 81053). Delete that CNAME in Cloudflare, then run again"
            )
            if problem not in problems:
                problems.append(problem)
            continue
        same_type = [r for r in same_name if r.get("type") == record.record_type]
        if record.record_type == "CAA":
            # CAA records coexist; only an identical one (issue letsencrypt.org) is a conflict (duplicate).
            same_type = [r for r in same_type if LETSENCRYPT in str(r.get("content")) + str(r.get("data"))]
        if not same_type:
            continue
        if len(same_type) > 1 or not adopt:
            contents = ", ".join(str(r.get("content")) for r in same_type)
            action = ("set dns.adoptExisting: true to take it over (its content becomes this stack's address on the "
                      "next run) or delete it in Cloudflare") if len(same_type) == 1 else "delete all but one in Cloudflare"
            problems.append(
                f"dns: {record.fqdn} already has {len(same_type)} {record.record_type} record(s) in Cloudflare not "
                f"created by this stack ({contents}); a second one would split the traffic: {action}"
            )
            continue
        imports[record.resource_name] = f"{zone_id}/{same_type[0].get('id')}"
    return DnsAdoption(imports, tuple(problems))
