"""How a service is reached from outside: its host names and path behind the proxy (`expose`), and the
names that only redirect to another (`app.redirects`)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from config.app_values import check_host, check_secret_name
from config.base import ConfigModel, Port


class RedirectConfig(ConfigModel):
    """https://<from>/<path> answers with a permanent redirect to https://<to>/<path> (e.g. www -> apex)."""

    from_: str = Field(alias="from")
    to: str

    @field_validator("from_", "to")
    @classmethod
    def _hosts(cls, value: str) -> str:
        return check_host(value)

    @model_validator(mode="after")
    def _not_itself(self) -> RedirectConfig:
        if self.from_ == self.to:
            raise ValueError(f"'{self.from_}' would redirect to itself")
        return self


class ExposeConfig(ConfigModel):
    """How the proxy reaches the service: https://<host><path> -> http://<service>:<port>."""

    port: Port
    # "@" for the app's domain (default), a subdomain label ("api", "api.eu") or a full name.
    host: str = "@"
    # Several names served the same way (each gets its certificate, DNS check and TLS alert); replaces host.
    hosts: list[str] | None = None
    # Optional path prefix such as "/api": the router matches Host AND PathPrefix.
    path: str | None = None
    strip_prefix: bool = False
    # Secret holding one htpasswd line ("user:$2y$..." from `htpasswd -nbB user pass`): basic auth in the proxy.
    basic_auth_secret: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("list at least one host, or use host")
        names = [check_host(name) for name in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"hosts listed twice: {duplicates}")
        return names

    @model_validator(mode="after")
    def _host_or_hosts(self) -> ExposeConfig:
        if self.hosts is not None and "host" in self.model_fields_set:
            raise ValueError("set either host or hosts, not both")
        return self

    @property
    def names(self) -> list[str]:
        """Every host this service is served at, as configured ("@", "www", full names)."""
        return list(self.hosts) if self.hosts is not None else [self.host]

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"^/[A-Za-z0-9._~/-]*$", value, re.ASCII) or value == "/":
            raise ValueError(f"'{value}' is not a path prefix such as /api (no spaces, quotes or regex)")
        return value.rstrip("/")

    @field_validator("basic_auth_secret")
    @classmethod
    def _auth(cls, value: str | None) -> str | None:
        return None if value is None else check_secret_name(value)
