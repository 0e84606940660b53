"""DNS names derived from the `dns` section: where the Let's Encrypt CAA record goes."""

from __future__ import annotations

from config.dns import DnsConfig


def caa_names(dns: DnsConfig) -> list[str]:
    """The names that get `CAA 0 issue "letsencrypt.org"` when dns.caaLetsencrypt is on.

    A CA looks for CAA on the name itself, then climbs to each parent until it finds a CAA set
    (RFC 8659 section 3), so one record on the highest name the stack serves covers every name below
    it. The records go on the stack's own names only, never on the zone apex unless the stack serves
    the apex itself ('@'): a CAA on a company's apex would forbid every other CA company-wide.
    """
    served = sorted({dns.fqdn(record).removeprefix("*.") for record in dns.records}, key=lambda n: (n.count("."), n))
    names: list[str] = []
    for name in served:
        if not any(name == kept or name.endswith("." + kept) for kept in names):
            names.append(name)
    return names
