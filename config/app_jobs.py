"""Scheduled jobs (`app.jobs.<name>`): a systemd timer per job runs a one-off container of a service."""

from __future__ import annotations

import re
import shlex

from pydantic import field_validator

from config.base import ConfigModel
from config.ops import Calendar

_SYSTEMD_SPAN_RE = re.compile(r"^(\d+(us|ms|s|min|h|d))+$")


class JobConfig(ConfigModel):
    """A scheduled one-off container of an app service (its image, environment, networks and volumes)."""

    # systemd OnCalendar expression, e.g. "*-*-* 03:00:00" (nightly) or "Mon *-*-* 06:00:00".
    schedule: Calendar
    service: str
    command: str | list[str]
    # systemd time span: the run is stopped (and alerted) after this long.
    timeout: str = "1h"

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | list[str]) -> str | list[str]:
        words = value if isinstance(value, list) else _split_words(value)
        if not words or any("\n" in word or "\0" in word for word in words):
            raise ValueError("the command is empty or spans lines")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        if not _SYSTEMD_SPAN_RE.match(value):
            raise ValueError(f"'{value}' is not a systemd time span such as 30min, 2h or 1h30min")
        return value

    @property
    def args(self) -> list[str]:
        return list(self.command) if isinstance(self.command, list) else _split_words(self.command)


def _split_words(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"cannot be split into words: {exc}") from None
