"""DNS on Cloudflare (`dns`): the zone, its records and whether Cloudflare proxies them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from config.base import DNS_LABEL_RE, ConfigModel
from config.errors import ConfigIssue, CrossFieldIssues
from config.formats import check_domain


class DnsRecordConfig(ConfigModel):
    name: str  # "@" for the zone apex, or a relative name such as "www" or "api.eu"
    proxied: bool | None = None  # None: the zone-wide default
    ipv6: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value != "@" and not all(DNS_LABEL_RE.fullmatch(label) or label == "*" for label in value.lower().split(".")):
            raise ValueError(f"'{value}' is not a valid record name ('@', 'www', 'api.eu', '*')")
        return value.lower()


class DnsConfig(ConfigModel):
    zone: str
    records: list[DnsRecordConfig] = Field(min_length=1)
    proxied: bool = False
    ttl: Annotated[int, Field(ge=1, le=86400)] = 1  # 1 = Cloudflare "automatic"
    caa_letsencrypt: bool = True
    # Records of the same name and type that already exist in the zone (not created by this stack): true
    # adopts them with Pulumi's import option, false (default) refuses the run naming each one
    # (spec/dns_adoption.py). A CNAME where an A/AAAA record goes is always refused.
    adopt_existing: bool = False
    # With every record proxied: admit 80/443 only from Cloudflare's ranges (spec/web_sources.py).
    cloudflare_only: bool = True

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_domain(value)

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: int) -> int:
        if value != 1 and not 60 <= value <= 86400:
            raise ValueError(f"ttl {value} is invalid: use 1 (automatic) or 60..86400 seconds")
        return value

    @model_validator(mode="after")
    def _proxied_ttl(self) -> DnsConfig:
        if self.ttl != 1 and any(self.is_proxied(record) for record in self.records):
            raise ValueError("proxied records must use ttl 1 (automatic): Cloudflare ignores other values")
        names = [record.name for record in self.records]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"records listed twice: {duplicates}")
        full_names = [
            ConfigIssue(f"dns.records[{index}].name", (
                f"'{record.name}' is a full name; names are relative to dns.zone ({self.zone}), so it would become "
                f"{record.name}.{self.zone}: write '{self._relative(record.name)}'"
            ))
            for index, record in enumerate(self.records)
            if record.name == self.zone or record.name.endswith("." + self.zone)
        ]
        if full_names:
            raise CrossFieldIssues(full_names)
        return self

    def _relative(self, name: str) -> str:
        return "@" if name == self.zone else name.removesuffix("." + self.zone)

    def is_proxied(self, record: DnsRecordConfig) -> bool:
        return self.proxied if record.proxied is None else record.proxied

    def fqdn(self, record: DnsRecordConfig) -> str:
        return self.zone if record.name == "@" else f"{record.name}.{self.zone}"
