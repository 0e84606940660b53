"""Checks that need the resolved view of a validated config (run after config validation, before any
resource): `hetzner-platform plan` and the Pulumi program both call `spec_issues`."""

from __future__ import annotations

from config.errors import ConfigIssue
from config.schema import StackConfig
from spec.ports import port_issues


def spec_issues(stack: StackConfig) -> list[ConfigIssue]:
    return port_issues(stack)
