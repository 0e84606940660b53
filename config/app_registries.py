"""Private registries the deploy logs in to (`app.registries.<host>`), with the secret holding the token."""

from __future__ import annotations

import re

from pydantic import field_validator

from config.app_values import (
    check_secret_name,
)
from config.base import ConfigModel

REGISTRY_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$")
_REGISTRY_USER_RE = re.compile(r"^[^\s:]{1,256}$")


class RegistryConfig(ConfigModel):
    """A private registry the host logs in to before `docker compose pull` (key: its host, e.g. ghcr.io)."""

    username: str
    # Secret holding the password or access token (appSecrets.<NAME>): a GitHub PAT with read:packages,
    # a GitLab deploy token, a Docker Hub access token.
    password_secret: str

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not _REGISTRY_USER_RE.match(value):
            raise ValueError(f"'{value}' is not a registry user name (no spaces or ':')")
        return value

    @field_validator("password_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        return check_secret_name(value)
