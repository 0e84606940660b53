"""Cloudflare's edge ranges (config/data/cloudflare-ips.yaml), for origins that admit only Cloudflare."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

CLOUDFLARE_IPS_PATH = Path(__file__).parent / "data" / "cloudflare-ips.yaml"


@dataclass(frozen=True)
class CloudflareRanges:
    taken_on: str
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.ipv4, *self.ipv6)


@lru_cache(maxsize=1)
def load_cloudflare_ranges(path: Path = CLOUDFLARE_IPS_PATH) -> CloudflareRanges:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    ranges = CloudflareRanges(str(document["taken_on"]), tuple(document["ipv4"]), tuple(document["ipv6"]))
    for cidr in ranges.ipv4:
        if ipaddress.ip_network(cidr, strict=True).version != 4:
            raise ValueError(f"{path}: {cidr} is listed under ipv4")
    for cidr in ranges.ipv6:
        if ipaddress.ip_network(cidr, strict=True).version != 6:
            raise ValueError(f"{path}: {cidr} is listed under ipv6")
    return ranges
