"""Config errors: every problem is collected with the config path it belongs to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_core import ErrorDetails

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ConfigIssue:
    path: str
    reason: str

    def __str__(self) -> str:
        # One line per issue: a hostile value's newlines or control characters are shown escaped.
        return _CONTROL.sub(lambda match: repr(match.group())[1:-1], f"{self.path}: {self.reason}")


class ConfigError(Exception):
    """Raised with all issues of a stack config at once."""

    def __init__(self, issues: list[ConfigIssue], source: str = "stack config") -> None:
        self.issues = issues
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{len(self.issues)} problem(s) in {self.source}:"]
        lines += [f"  - {issue}" for issue in self.issues]
        return "\n".join(lines)


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def issues_from_error_details(details: Sequence[ErrorDetails]) -> list[ConfigIssue]:
    issues = []
    for detail in details:
        # Pydantic prefixes messages of raised ValueErrors with "Value error, ": drop it.
        message = detail["msg"].removeprefix("Value error, ")
        loc = tuple(part for part in detail["loc"] if not str(part).startswith("function-"))
        if detail["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against the configuration reference)"
        elif detail["type"] == "missing":
            message = "required key is missing"
        issues.append(ConfigIssue(_loc_to_path(loc), message))
    return issues


class CrossFieldIssues(ValueError):
    """Carries several path-specific issues out of a model validator through pydantic."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("; ".join(str(issue) for issue in issues))
