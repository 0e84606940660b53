"""Who may reach the proxies' ports 80/443 from the internet: anyone, or only Cloudflare's edge.

With every DNS record proxied by Cloudflare and dns.cloudflareOnly (the default), the Cloud Firewall,
UFW and DOCKER-USER admit 80/443 only from Cloudflare's published ranges, so nobody reaches the origin
around Cloudflare (its WAF, rate limits, DDoS protection). A record served directly (proxied false)
needs 80/443 from anywhere, so then nothing is narrowed and the plan says why.
"""

from __future__ import annotations

from config.cloudflare_ips import load_cloudflare_ranges
from config.schema import StackConfig


def cloudflare_only(config: StackConfig) -> bool:
    dns = config.dns
    return dns is not None and dns.cloudflare_only and all(dns.is_proxied(record) for record in dns.records)


def web_sources(config: StackConfig) -> list[str] | None:
    """CIDRs admitted on 80/443 (IPv4 then IPv6); None: anywhere."""
    return list(load_cloudflare_ranges().all) if cloudflare_only(config) else None


def web_source_notes(config: StackConfig) -> list[str]:
    dns = config.dns
    if dns is None or not dns.cloudflare_only:
        return []
    direct = [record.name for record in dns.records if not dns.is_proxied(record)]
    if cloudflare_only(config):
        ranges = load_cloudflare_ranges()
        return [
            f"80/443 are open to Cloudflare's ranges only (config/data/cloudflare-ips.yaml of {ranges.taken_on}); "
            "set Cloudflare's SSL/TLS mode to Full (strict)"
        ]
    if any(dns.is_proxied(record) for record in dns.records):
        return [
            f"80/443 stay open to everyone: dns.records {', '.join(direct)} are not proxied by Cloudflare, so the "
            "origin must answer them directly (proxy every record to admit only Cloudflare)"
        ]
    return []
