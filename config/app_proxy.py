"""The reverse proxy the platform runs in front of exposed services (`app.proxy`): Traefik or nginx."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from config.app_service import ResourceLimits
from config.app_values import DEFAULT_PROXY_IMAGES, ProxyKind
from config.base import ConfigModel
from config.formats import check_image


class RateLimit(ConfigModel):
    # Requests per second per client address, with a burst allowance (seed 000: 10 r/s, burst 20).
    average: Annotated[int, Field(ge=1, le=100000)]
    burst: Annotated[int, Field(ge=1, le=100000)]


class ProxyConfig(ConfigModel):
    kind: ProxyKind = "traefik"
    image: str | None = None  # default: DEFAULT_PROXY_IMAGES[kind]
    limits: ResourceLimits = Field(default_factory=lambda: ResourceLimits(cpus=0.25, memory="128M"))
    reservations: ResourceLimits | None = Field(default_factory=lambda: ResourceLimits(cpus=0.1, memory="64M"))
    rate_limit: RateLimit | None = None
    hsts_seconds: Annotated[int, Field(ge=0, le=63_072_000)] = 31536000
    # nginx only (client_max_body_size); Traefik has no body limit by default.
    max_body_size: str | None = None
    # Let's Encrypt certificates in the proxy; false: the default self-signed cert (tests, no DNS yet).
    acme: bool = True

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image(value)

    @field_validator("max_body_size")
    @classmethod
    def _body(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"^\d+[kKmMgG]?$", value, re.ASCII):
            raise ValueError(f"'{value}' is not an nginx size such as 100m or 2G")
        return value

    @property
    def resolved_image(self) -> str:
        return self.image or DEFAULT_PROXY_IMAGES[self.kind]
