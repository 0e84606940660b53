"""Shared pydantic base for every config model (camelCase keys in YAML, unknown keys rejected) and the
field types and checks more than one config module uses."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Port = Annotated[int, Field(ge=1, le=65535)]
Role = Literal["web", "db", "worker"]
# A Linux user name, and one DNS label (a host name part, a Hetzner label).
USER_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
DNS_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a valid CIDR ({exc})") from None


class ConfigModel(BaseModel):
    # Stack files use Pulumi's camelCase convention; Python code uses snake_case.
    # extra="forbid" turns a typo such as `enviroment` into an error instead of a silent default.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )
